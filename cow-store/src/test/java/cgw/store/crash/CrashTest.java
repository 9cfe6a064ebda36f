package cgw.store.crash;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.BlockStore;
import cgw.store.Extent;
import cgw.store.ExtentType;
import cgw.store.Volume;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.util.Environment;

/**
 * Crash test: a child JVM ({@link CrashWriter}) writes, zeroes, trims, flushes, cuts and collects
 * on one volume from several threads and is SIGKILLed after a random delay; the store is then
 * reopened here, its volume read whole and checked, and the next child carries on from the
 * recovered store, so recovery of a recovered store is exercised too. About one round in eight
 * kills the child while it opens the store, which is to say while RocksDB recovers.
 *
 * <p>Invariant. Every DATA write has content that names it ({@link OpContent}); write-zeroes and
 * trim read as zeros. The child records in a {@link Journal} when each operation started and was
 * acknowledged, and when each flush started and completed. A write is <em>visible</em> when it is
 * the only operation whose content matches some bytes read back. Call an operation a
 * <em>survivor</em> when it was acknowledged before a flush that completed, or when it completed
 * before a visible write began: RocksDB replays a prefix of its WAL, so the store recovers to a
 * point in time. Then, for every byte range of a block covered by one same set of operations (a
 * segment):
 * <ol>
 *   <li>the segment holds exactly the content before the round or the content of one operation
 *       covering it: nothing foreign, no mix of two (no torn block);</li>
 *   <li>a write visible in one segment of a block shows in every other segment of that block it
 *       covers, unless overwritten by an operation that did not complete before it began: a write
 *       reaches a block in one put (across blocks nothing is promised);</li>
 *   <li>where a survivor covers the segment, the segment holds that survivor or an operation that
 *       did not complete before the survivor began: nothing acknowledged and flushed is lost,
 *       nothing older comes back;</li>
 *   <li>the same with every acknowledged operation counted as a survivor: {@code BlockStore.write}
 *       promises that an acknowledged write survives a process kill (the WAL is in the page
 *       cache), flush or not.</li>
 * </ol>
 * And the store reopens, the volume is there with its size, and holes and zero extents read as
 * zeros. The state read becomes the content before the next round. A kill cannot drop the page
 * cache, so this test cannot tell a written WAL from a synced one; it checks what a process crash
 * can break.
 *
 * <p>Writers share the whole volume, so their writes overlap inside blocks: this caught a lost
 * update (a whole-block put landing between a partial write's read and its put) before the store
 * held stripe locks for every block it writes. {@code -Dcgw.crash.sharedRegions=false} gives each
 * writer a third of the volume instead.
 *
 * <p>Replay: the seed is printed; {@code -Dcgw.crash.seed=S} repeats the kill schedule and every
 * writer's operation stream, though not the threads' interleaving. {@code -Dcgw.crash.kills=N}
 * sets the number of rounds.
 */
class CrashTest {
    private static final int KILLS = Integer.getInteger("cgw.crash.kills", 50);
    private static final boolean SHARED_REGIONS = Boolean
            .parseBoolean(System.getProperty("cgw.crash.sharedRegions", "true"));
    /** Status of a process ended by SIGKILL: 128 + 9. */
    private static final int SIGKILL_STATUS = 137;
    /** Lines of the child's output kept for a failure message. */
    private static final int OUTPUT_TAIL_LINES = 60;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void flushedWritesSurviveSigkillUntorn() throws Exception {
        long seed = Long.getLong("cgw.crash.seed", new SecureRandom().nextLong());
        System.out.println(
                "crash test: seed " + seed + ", " + KILLS + " kills (replay with -Dcgw.crash.seed=" + seed + ")");
        Path storeDir = dir.resolve("store");
        try (BlockStore store = BlockStore.open(storeDir, CrashWriter.storeOptions())) {
            store.createVolume(CrashWriter.VOLUME, CrashWriter.VOLUME_SIZE_BYTES);
        }
        List<String> command = childCommand();
        Random schedule = new Random(seed);
        byte[] content = new byte[(int) CrashWriter.VOLUME_SIZE_BYTES];
        long startNanos = System.nanoTime();
        long acknowledged = 0;
        long durable = 0;
        for (int round = 1; round <= KILLS; round++) {
            boolean duringOpen = schedule.nextInt(8) == 0;
            int delayMs = duringOpen ? schedule.nextInt(800) : 200 + schedule.nextInt(1300);
            String where = "round " + round + " of seed " + seed + " (replay with -Dcgw.crash.seed=" + seed
                    + "), killed "
                    + delayMs + " ms after " + (duringOpen ? "start" : "READY");
            Path journal = dir.resolve("journal-" + round);
            Child child = Child.start(command, storeDir, journal, seed, round);
            if (!duringOpen) {
                child.awaitReady(where);
            }
            // part of the scenario, not a wait for a condition: the kill lands at a seeded moment of the run
            Thread.sleep(delayMs);
            child.kill(where);
            Journal.History history = Journal.read(journal);
            content = checkRecovered(storeDir, history, content, where);
            acknowledged += history.acknowledgedCount();
            durable += history.durableCount();
            Files.deleteIfExists(journal);
        }
        System.out.printf("crash test: %d kills in %.1f s; %d operations acknowledged, %d of them flushed%n",
                KILLS, (System.nanoTime() - startNanos) / 1e9, acknowledged, durable);
        assertThat(durable).as("flushed operations over all rounds").isPositive();
    }

    /** Reopens the store, reads the volume and checks it; returns what was read. */
    private static byte[] checkRecovered(Path storeDir, Journal.History history, byte[] before, String where) {
        byte[] observed = new byte[before.length];
        int blockSize;
        try (BlockStore store = BlockStore.open(storeDir, CrashWriter.storeOptions())) {
            Volume volume = store.volume(CrashWriter.VOLUME);
            assertThat(volume.sizeBytes()).as("volume size after %s", where).isEqualTo(CrashWriter.VOLUME_SIZE_BYTES);
            store.read(volume, 0, ByteBuffer.wrap(observed));
            for (Extent extent : store.extents(volume, volume.headEpoch(), 0, observed.length)) {
                if (extent.type() != ExtentType.DATA) {
                    for (long p = extent.offset(); p < extent.end(); p++) {
                        if (observed[(int) p] != 0) {
                            throw new AssertionError(where + ": " + extent + " reads non-zero byte at " + p);
                        }
                    }
                }
            }
            blockSize = store.blockSizeBytes();
        } catch (RuntimeException e) {
            throw new AssertionError(where + ": reopening and reading the store failed: " + e, e);
        }
        List<String> violations = RecoveryCheck.run(history, before, observed, blockSize);
        if (!violations.isEmpty()) {
            throw new AssertionError(where + ": recovered volume is not a valid crash state (" + history.ops().size()
                    + " operations started, " + history.acknowledgedCount() + " acknowledged, " + history.durableCount()
                    + " flushed):\n  " + String.join("\n  ", violations));
        }
        return observed;
    }

    /**
     * The same java binary and class path as this JVM, small and quick to start. RocksDB loads its
     * library from a copy made once, not from a fresh temp copy per child that a kill would leak.
     */
    private List<String> childCommand() throws IOException {
        Path lib = Files.createDirectories(dir.resolve("lib"));
        String libraryFile = Environment.getJniLibraryFileName("rocksdb");
        try (InputStream in = BlockStore.class.getClassLoader().getResourceAsStream(libraryFile)) {
            assertThat(in).as("RocksDB library %s on the class path", libraryFile).isNotNull();
            Files.copy(in, lib.resolve(libraryFile), StandardCopyOption.REPLACE_EXISTING);
        }
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        return List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Djava.library.path=" + lib, "-Djava.io.tmpdir=" + tmp,
                "-cp", System.getProperty("java.class.path"), CrashWriter.class.getName());
    }

    /** A running {@link CrashWriter}; one thread drains its output and keeps the tail. */
    private static final class Child {
        private final Process process;
        private final CountDownLatch readyOrGone = new CountDownLatch(1);
        private final ArrayDeque<String> tail = new ArrayDeque<>();
        private final Thread drain;
        private volatile boolean ready;

        private Child(Process process) {
            this.process = process;
            this.drain = new Thread(this::drain, "crash-writer-output");
            drain.setDaemon(true);
            drain.start();
        }

        static Child start(List<String> command, Path storeDir, Path journal, long seed, int round) throws IOException {
            List<String> args = new ArrayList<>(command);
            args.addAll(List.of(storeDir.toString(), journal.toString(), Long.toString(seed), Integer.toString(round),
                    Boolean.toString(SHARED_REGIONS)));
            return new Child(new ProcessBuilder(args).redirectErrorStream(true).start());
        }

        private void drain() {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null;) {
                    if (line.equals(CrashWriter.READY)) {
                        ready = true;
                        readyOrGone.countDown();
                    }
                    synchronized (tail) {
                        tail.addLast(line);
                        if (tail.size() > OUTPUT_TAIL_LINES) {
                            tail.removeFirst();
                        }
                    }
                }
            } catch (IOException e) {
                synchronized (tail) {
                    tail.addLast("(reading output failed: " + e + ")");
                }
            } finally {
                readyOrGone.countDown();
            }
        }

        void awaitReady(String where) throws InterruptedException {
            readyOrGone.await();
            if (!ready) {
                process.waitFor();
                throw new AssertionError(where + ": the writer exited with status " + process.exitValue()
                        + " before it was ready:\n" + output());
            }
        }

        /** SIGKILL; the writer must still be running, since it never stops by itself. */
        void kill(String where) throws InterruptedException {
            boolean wasAlive = process.isAlive();
            process.destroyForcibly();
            int status = process.waitFor();
            drain.join();
            if (!wasAlive || status != SIGKILL_STATUS) {
                throw new AssertionError(where + ": the writer exited with status " + status
                        + " before it was killed:\n" + output());
            }
        }

        private String output() throws InterruptedException {
            drain.join();
            synchronized (tail) {
                return String.join("\n", tail);
            }
        }
    }
}
