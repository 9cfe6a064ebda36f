package cgw.backup;

/**
 * A chunk a manifest references is missing or corrupt. Names the chunk and where it belongs, so
 * an operator knows which volume range a restore could not bring back.
 */
public class ChunkUnreadableException extends BackupException {
    private final String chunkId;
    private final String volume;
    private final long offsetBytes;

    public ChunkUnreadableException(ChunkId chunkId, String volume, long offsetBytes, BackupException cause) {
        super("chunk " + chunkId.hex() + " of volume " + volume + " at offset " + offsetBytes + " is "
                + (cause instanceof ObjectNotFoundException ? "missing" : "corrupt") + ": " + cause.getMessage(),
                cause);
        this.chunkId = chunkId.hex();
        this.volume = volume;
        this.offsetBytes = offsetBytes;
    }

    public String chunkId() {
        return chunkId;
    }

    public String volume() {
        return volume;
    }

    public long offsetBytes() {
        return offsetBytes;
    }
}
