package cgw.store.crash;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.BlockStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

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
 * And the store reopens, the volume is there with its size, holes and zero extents read as
 * zeros, every snapshot cut in the round is a valid state of what its cut sealed, older ones are
 * unchanged, and every clone reads as its snapshot ({@link RecoveredStore}). The state read becomes the content before the next round. A kill cannot drop the page
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
        List<String> command = WriterProcess.command(dir);
        Random schedule = new Random(seed);
        RecoveredStore.State state = RecoveredStore.State.empty();
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
            WriterProcess.Child child = WriterProcess.Child.start(command, storeDir, journal, seed, round,
                    SHARED_REGIONS);
            if (!duringOpen) {
                child.awaitReady(where);
            }
            // part of the scenario, not a wait for a condition: the kill lands at a seeded moment of the run
            Thread.sleep(delayMs);
            child.kill(where);
            Journal.History history = Journal.read(journal);
            state = RecoveredStore.check(storeDir, history, state, where, false);
            acknowledged += history.acknowledgedCount();
            durable += history.durableCount();
            Files.deleteIfExists(journal);
        }
        System.out.printf("crash test: %d kills in %.1f s; %d operations acknowledged, %d of them flushed%n",
                KILLS, (System.nanoTime() - startNanos) / 1e9, acknowledged, durable);
        assertThat(durable).as("flushed operations over all rounds").isPositive();
    }

}
