package cgw.store;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jspecify.annotations.Nullable;

/**
 * A handle on one volume of a {@link BlockStore}. Look it up once by name at the edge, then pass
 * it to every I/O call: no name lookup on the hot path. A handle whose volume was deleted makes
 * every call fail with {@link VolumeNotFoundException}.
 *
 * <p>Threads: I/O threads read {@code sizeBytes}, {@code headEpoch} and {@code deleted} (volatile).
 * Everything else mutable is guarded by the store's catalog lock. {@link #headLock} orders writes
 * against cuts: a write holds its read side while it applies at the head epoch, a cut holds the
 * write side while it moves the head, so a sealed epoch never changes again.
 */
public final class Volume {
    final long id;
    final String name;
    final @Nullable Volume parent;
    final long parentEpoch;
    final long parentSizeBytes;
    final long createdAtMillis;
    final int depth;

    volatile long sizeBytes;
    volatile long headEpoch;
    volatile boolean deleted;

    final ReentrantReadWriteLock headLock = new ReentrantReadWriteLock();
    /** Regions whose record at the head epoch is known to be there; replaced by each cut, under the head lock's write side. */
    volatile HeadRegions headRegions;

    /** Retained epochs to the volume size at their cut. Guarded by the catalog lock. */
    final TreeMap<Long, Long> retained = new TreeMap<>();
    /** Epochs of this volume that clones fall through to, with their clone counts. Catalog lock. */
    final TreeMap<Long, Integer> pins = new TreeMap<>();
    /** Retained epochs that readers hold ({@link BlockStore#hold}), with their counts. Catalog lock. */
    final TreeMap<Long, Integer> readers = new TreeMap<>();
    /** Clones whose parent is this volume. Guarded by the catalog lock. */
    final List<Volume> clones = new ArrayList<>();

    /** {@code fresh}: the volume was made in this process, so that no record of it exists yet. */
    Volume(VolumeRecord record, @Nullable Volume parent, AtomicInteger headRegionPages, boolean fresh) {
        this.id = record.id();
        this.name = record.name();
        this.parent = parent;
        this.parentEpoch = record.parentEpoch();
        this.parentSizeBytes = record.parentSizeBytes();
        this.createdAtMillis = record.createdAtMillis();
        this.sizeBytes = record.sizeBytes();
        this.headEpoch = record.headEpoch();
        this.depth = parent == null ? 0 : parent.depth + 1;
        this.headRegions = new HeadRegions(headEpoch, headRegionPages, fresh);
    }

    public String name() {
        return name;
    }

    public long id() {
        return id;
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    public long headEpoch() {
        return headEpoch;
    }

    /** Throws {@link InvalidRequestException} unless {@code sizeBytes} is a size a volume may have. */
    static void checkSize(String field, long sizeBytes) {
        if (sizeBytes <= 0 || sizeBytes > BlockStore.MAX_VOLUME_SIZE_BYTES
                || sizeBytes % BlockStore.SECTOR_BYTES != 0) {
            throw new InvalidRequestException("invalid " + field + " " + sizeBytes + ": must be a positive multiple of "
                    + BlockStore.SECTOR_BYTES + " bytes, at most " + BlockStore.MAX_VOLUME_SIZE_BYTES);
        }
    }

    /** Throws {@link VolumeNotFoundException} when this volume was deleted. */
    void checkAlive() {
        if (deleted) {
            throw new VolumeNotFoundException("volume " + name + " was deleted");
        }
    }

    /** Throws {@link OutOfRangeException} unless {@code [offset, offset + length)} lies within {@code sizeBytes}. */
    void checkRange(long offset, long length, long sizeBytes) {
        if (offset < 0 || length < 0 || offset > sizeBytes || length > sizeBytes - offset) {
            throw new OutOfRangeException("range [" + offset + ", +" + length + ") is outside " + name
                    + " (" + sizeBytes + " bytes)");
        }
    }

    /**
     * The epoch a write asked for {@code epoch} goes to: the head for {@link BlockStore#HEAD}, else
     * {@code epoch} if it is not newer than the head. Under the read side of the head lock.
     */
    long writableEpoch(long epoch) {
        long head = headEpoch;
        if (epoch == BlockStore.HEAD) {
            return head;
        }
        if (epoch < 1 || epoch > head) {
            throw new InvalidRequestException("cannot write " + name + " at epoch " + epoch
                    + " (head is " + head + ")");
        }
        return epoch;
    }

    VolumeRecord record() {
        return new VolumeRecord(id, name, sizeBytes, headEpoch, createdAtMillis,
                parent == null ? 0 : parent.id, parentEpoch, parentSizeBytes);
    }

    /** Must be called under the catalog lock. */
    VolumeInfo info() {
        return new VolumeInfo(name, id, sizeBytes, createdAtMillis,
                parent == null ? null : parent.name, parentEpoch, headEpoch,
                List.copyOf(retained.keySet()));
    }

    @Override
    public String toString() {
        return "volume " + name + " (id " + id + ")";
    }
}
