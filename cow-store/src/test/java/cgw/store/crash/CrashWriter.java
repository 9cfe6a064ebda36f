package cgw.store.crash;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import cgw.store.VolumeInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.locks.LockSupport;

/**
 * The process {@link CrashTest} kills: opens the store, prints {@code READY}, then writes, zeroes,
 * trims, flushes, cuts, clones and collects until SIGKILL, recording every operation in a {@link Journal}.
 * It never exits by itself; an exception halts it with status 3, which the test reports.
 *
 * <p>Threads: {@value #WRITERS} writer threads, each with its own region, operation stream and
 * buffers; the main thread flushes in a loop and now and then cuts, releases, clones the newest
 * snapshot (deleting older clones) and collects. The
 * journal is the only shared state.
 *
 * <p>Arguments: store directory, journal file, seed, round, whether writers share the whole volume.
 */
public final class CrashWriter {
    static final String VOLUME = "crash";
    static final long VOLUME_SIZE_BYTES = 3L << 20;
    static final int WRITERS = 3;
    static final String READY = "READY";

    /** Largest operation: 128 KiB, a few dozen blocks. */
    private static final int MAX_OP_BYTES = 128 << 10;
    /** Bytes of junk around the data in a source buffer: the store must read only position..limit. */
    private static final int PAD_BYTES = 16;
    private static final byte JUNK = (byte) 0xEE;
    /** Operation numbers: round in the high half, writer in the next 4 bits, then a counter. */
    private static final int WRITER_SHIFT = 28;
    /** Retained epochs kept while the flusher cuts; older ones are released for the collector. */
    private static final int RETAINED_EPOCHS = 2;
    /** Clones of the newest snapshot, never written: each must read as the snapshot it was made of. */
    static final String CLONE_PREFIX = "clone-";
    private static final int CLONES = 2;

    private CrashWriter() {
    }

    static StoreOptions storeOptions() {
        // small value log segments: kills land in rollovers and in the cleaner's relocations too
        return StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false)
                .withValueLogSegmentBytes(256 << 10);
    }

    public static void main(String[] args) throws Exception {
        Path storeDir = Path.of(args[0]);
        Path journalPath = Path.of(args[1]);
        long seed = Long.parseLong(args[2]);
        int round = Integer.parseInt(args[3]);
        boolean shared = Boolean.parseBoolean(args[4]);
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
            System.err.println("crash writer: " + thread.getName() + " failed");
            e.printStackTrace();
            System.err.flush();
            Runtime.getRuntime().halt(3);
        });

        // never closed: the only way out is SIGKILL
        BlockStore store = BlockStore.open(storeDir, storeOptions());
        Volume volume = store.volume(VOLUME);
        Journal journal = Journal.create(journalPath);
        System.out.println(READY);
        System.out.flush();

        long regionBytes = shared ? VOLUME_SIZE_BYTES : VOLUME_SIZE_BYTES / WRITERS;
        for (int w = 0; w < WRITERS; w++) {
            long from = shared ? 0 : w * regionBytes;
            Writer writer = new Writer(store, volume, journal, new Random(streamSeed(seed, round, w)),
                    ((long) round << 32) | ((long) w << WRITER_SHIFT), from, from + regionBytes);
            Thread thread = new Thread(writer::run, "writer-" + w);
            thread.setDaemon(true);
            thread.start();
        }
        flushForever(store, volume, journal, round, new Random(streamSeed(seed, round, WRITERS)));
    }

    /** Seed of one thread's random stream in one round: writers 0 to WRITERS - 1, then the flusher. */
    private static long streamSeed(long seed, int round, int stream) {
        return OpContent.mix(OpContent.mix(seed + round) + stream);
    }

    private static void flushForever(BlockStore store, Volume volume, Journal journal, int round, Random random) {
        for (long id = 1;; id++) {
            journal.flushStarted(id);
            store.flush();
            journal.flushed(id);
            int dice = random.nextInt(100);
            if (dice < 5) {
                journal.cutStarted(id);
                journal.cut(id, store.cut(volume));
                List<Long> retained = store.retainedEpochs(volume);
                if (retained.size() > RETAINED_EPOCHS) {
                    store.release(volume, retained.get(0));
                }
            } else if (dice < 7) {
                store.collectGarbage();
            } else if (dice < 8) {
                List<Long> retained = store.retainedEpochs(volume);
                if (!retained.isEmpty()) {
                    store.clone(volume, retained.get(retained.size() - 1),
                            String.format("%s%04d-%08d", CLONE_PREFIX, round, id));
                }
                List<String> clones = store.volumes().stream().map(VolumeInfo::name)
                        .filter(name -> name.startsWith(CLONE_PREFIX)).toList();
                for (int i = 0; i < clones.size() - CLONES; i++) {
                    store.delete(store.volume(clones.get(i)));
                }
            }
            LockSupport.parkNanos(random.nextInt(5_000_000));
        }
    }

    /** One writer thread: a seeded stream of operations inside {@code [fromByte, toByte)}. */
    private static final class Writer {
        private final BlockStore store;
        private final Volume volume;
        private final Journal journal;
        private final Random random;
        private final long seqBase;
        private final long fromByte;
        private final long toByte;
        private final ByteBuffer direct = ByteBuffer.allocateDirect(MAX_OP_BYTES + 2 * PAD_BYTES);
        private final ByteBuffer heap = ByteBuffer.allocate(MAX_OP_BYTES + 2 * PAD_BYTES);

        Writer(BlockStore store, Volume volume, Journal journal, Random random, long seqBase, long fromByte,
                long toByte) {
            this.store = store;
            this.volume = volume;
            this.journal = journal;
            this.random = random;
            this.seqBase = seqBase;
            this.fromByte = fromByte;
            this.toByte = toByte;
        }

        void run() {
            for (long n = 0;; n++) {
                long seq = seqBase + n;
                int dice = random.nextInt(100);
                if (dice < 25) {
                    write(seq, unaligned(1 + random.nextInt(6000)));
                } else if (dice < 42) {
                    write(seq, aligned(512 * (1 + random.nextInt(24)), 512));
                } else if (dice < 58) {
                    write(seq, aligned(4096 * (1 + random.nextInt(16)), 4096));
                } else if (dice < 68) {
                    write(seq, unaligned(1 + random.nextInt(MAX_OP_BYTES)));
                } else if (dice < 78) {
                    // long runs rewritten where they were: overwritten in place once laid out back to back
                    write(seq, aligned((64 << 10) * (1 + random.nextInt(2)), 64 << 10));
                } else {
                    Journal.Kind kind = dice < 89 ? Journal.Kind.ZEROES : Journal.Kind.TRIM;
                    long[] range = random.nextBoolean()
                            ? aligned(4096 * (1 + random.nextInt(16)), 4096)
                            : unaligned(1 + random.nextInt(64 << 10));
                    journal.started(seq, kind, range[0], range[1]);
                    if (kind == Journal.Kind.ZEROES) {
                        store.writeZeroes(volume, range[0], range[1]);
                    } else {
                        store.trim(volume, range[0], range[1]);
                    }
                    journal.acknowledged(seq);
                }
            }
        }

        /** {offset, length} anywhere in the region, so it may start and end inside blocks. */
        private long[] unaligned(int lengthBytes) {
            int length = (int) Math.min(lengthBytes, toByte - fromByte);
            return new long[]{fromByte + random.nextLong(toByte - fromByte - length + 1), length};
        }

        private long[] aligned(int lengthBytes, int alignBytes) {
            long slots = (toByte - fromByte - lengthBytes) / alignBytes + 1;
            return new long[]{fromByte + random.nextLong(slots) * alignBytes, lengthBytes};
        }

        /** Writes from a direct or a heap buffer whose data sits between junk, at a random position. */
        private void write(long seq, long[] range) {
            long offset = range[0];
            int length = (int) range[1];
            ByteBuffer src = random.nextBoolean() ? direct : heap;
            int pad = random.nextInt(PAD_BYTES + 1);
            src.clear();
            for (int i = 0; i < PAD_BYTES; i++) {
                src.put(i, JUNK);
                src.put(pad + length + i, JUNK);
            }
            src.position(pad).limit(pad + length);
            OpContent.fill(seq, offset, src);
            journal.started(seq, Journal.Kind.DATA, offset, length);
            store.write(volume, offset, src);
            journal.acknowledged(seq);
        }
    }
}
