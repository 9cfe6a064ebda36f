package cgw.bench;

import cgw.store.BlockStore;
import cgw.store.Volume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.SplittableRandom;

/**
 * Writes {@link DataPattern} over a whole volume or file with 1 MiB sequential writes, and reads
 * samples back before a benchmark trusts a dataset: a volume that silently lost its data reads
 * zeros, and zeros are fast.
 *
 * <p>Threads: the caller's; no state.
 */
final class PatternFill {
    static final int CHUNK_BYTES = DataPattern.LENGTH_BYTES;
    private static final int SAMPLE_BYTES = 4096;
    private static final int SAMPLES = 256;

    private PatternFill() {
    }

    /** Writes the pattern over {@code [0, sizeBytes)} of a volume; the size is a multiple of 1 MiB. */
    static void volume(BlockStore store, Volume volume, long sizeBytes) {
        checkWholeChunks(sizeBytes);
        DataPattern pattern = new DataPattern(CHUNK_BYTES);
        for (long offset = 0; offset < sizeBytes; offset += CHUNK_BYTES) {
            store.write(volume, offset, pattern.at(offset));
        }
    }

    /** As {@link #volume}, then a WAL sync, printing the rate to the benchmark log. */
    static void volumeReported(BlockStore store, Volume volume, long sizeBytes) {
        long startNanos = System.nanoTime();
        volume(store, volume, sizeBytes);
        store.flush();
        report("volume " + volume.name(), sizeBytes, startNanos);
    }

    /** Writes the pattern over {@code [0, sizeBytes)} of a file and forces it to disk. */
    static void file(FileChannel channel, long sizeBytes) {
        checkWholeChunks(sizeBytes);
        long startNanos = System.nanoTime();
        DataPattern pattern = new DataPattern(CHUNK_BYTES);
        try {
            for (long offset = 0; offset < sizeBytes; offset += CHUNK_BYTES) {
                writeFully(channel, pattern.at(offset), offset);
            }
            channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("filling a " + sizeBytes + "-byte file failed", e);
        }
        report("file", sizeBytes, startNanos);
    }

    /** Reads the first and last block and random samples of a volume; throws unless all hold the pattern. */
    static void checkVolume(BlockStore store, Volume volume, long sizeBytes) {
        ByteBuffer sample = ByteBuffer.allocateDirect(SAMPLE_BYTES);
        for (long offset : sampleOffsets(sizeBytes)) {
            store.read(volume, offset, sample);
            check(sample, offset, volume.toString());
        }
    }

    /** As {@link #checkVolume}, for a file. */
    static void checkFile(FileChannel channel, long sizeBytes) {
        ByteBuffer sample = ByteBuffer.allocateDirect(SAMPLE_BYTES);
        try {
            if (channel.size() != sizeBytes) {
                throw new IllegalStateException("file holds " + channel.size() + " bytes, expected " + sizeBytes);
            }
            for (long offset : sampleOffsets(sizeBytes)) {
                sample.clear();
                readFully(channel, sample, offset);
                check(sample, offset, "file");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("checking a file failed", e);
        }
    }

    /** Throws unless {@code data[0, length)} holds the pattern at {@code offset}: read paths check what they read. */
    static void check(ByteBuffer data, long offset, String what) {
        long differs = DataPattern.mismatch(data, offset, data.capacity());
        if (differs >= 0) {
            throw new IllegalStateException(what + " does not hold the benchmark pattern at byte " + differs
                    + " (read of " + data.capacity() + " bytes at " + offset + "); delete "
                    + BenchSpace.root() + " to prepare the datasets again");
        }
    }

    static void writeFully(FileChannel channel, ByteBuffer src, long offset) throws IOException {
        for (long at = offset; src.hasRemaining();) {
            at += channel.write(src, at);
        }
    }

    static void readFully(FileChannel channel, ByteBuffer dst, long offset) throws IOException {
        for (long at = offset; dst.hasRemaining();) {
            int n = channel.read(dst, at);
            if (n < 0) {
                throw new IOException(
                        "end of file at " + at + " while reading " + dst.capacity() + " bytes at " + offset);
            }
            at += n;
        }
    }

    private static long[] sampleOffsets(long sizeBytes) {
        long blocks = sizeBytes / SAMPLE_BYTES;
        long[] offsets = new long[SAMPLES];
        SplittableRandom random = new SplittableRandom(sizeBytes);
        offsets[0] = 0;
        offsets[1] = (blocks - 1) * SAMPLE_BYTES;
        for (int i = 2; i < SAMPLES; i++) {
            offsets[i] = random.nextLong(blocks) * SAMPLE_BYTES;
        }
        return offsets;
    }

    private static void checkWholeChunks(long sizeBytes) {
        if (sizeBytes <= 0 || sizeBytes % CHUNK_BYTES != 0) {
            throw new IllegalArgumentException("size must be a positive multiple of 1 MiB, got " + sizeBytes);
        }
    }

    private static void report(String what, long sizeBytes, long startNanos) {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        System.out.printf("%n# cgw.bench: wrote %s of %d MiB in %.1f s (%.0f MiB/s)%n",
                what, sizeBytes >> 20, seconds, (sizeBytes >> 20) / seconds);
    }
}
