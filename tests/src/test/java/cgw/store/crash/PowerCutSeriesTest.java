package cgw.store.crash;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.BlockStore;
import cgw.tests.Campaign;
import cgw.tests.faults.FaultFs;
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
 * Power cuts in a series, under {@link CrashWriter}'s mix: writes of every shape and alignment
 * from three threads (long runs rewritten where they are, so overwrites in place happen), zeroes,
 * trims, flushes, cuts and releases, clones of the newest snapshot, the collector, and the
 * cleaner relocating blocks out of small segments. Each round starts the writer on faultfs, kills
 * it at a seeded moment (one in eight while it opens the store, so while RocksDB replays and the
 * replay is judged), lets the kernel have written back a seeded choice of the store's files (the
 * WAL, the segments, their CRC tables, the value log's mark), drops everything else not synced,
 * and reopens the store here ({@link RecoveredStore}, power-cut rules): every write acknowledged
 * before a flush that completed is there, every other byte holds what was there before the round
 * or one write that covered it (no error, no torn block), every snapshot is whole and unchanged,
 * every clone reads as its snapshot. The next round carries on from the recovered store.
 *
 * <p>{@code mvn verify} runs a short slice; {@code -P faults} runs 200 rounds. Replay: the seed is
 * printed, {@code -Dcgw.crash.seed=S} repeats the schedule (not the threads' interleaving).
 */
class PowerCutSeriesTest {
    private static final int CUTS = Campaign.pick(10, 200);
    /** What the kernel may have written back before the power went: each is chosen or not per round. */
    private static final List<String> WRITTEN_BACK = List.of("store/*.log", "store/values/*.seg",
            "store/values/*.crc", "store/values/durable", "store/values/overwrites");

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 90, unit = TimeUnit.MINUTES)
    void everyFlushedWriteSurvivesEveryPowerCut() throws Exception {
        long seed = Long.getLong("cgw.crash.seed", new SecureRandom().nextLong());
        System.out.println("power cut series: seed " + seed + ", " + CUTS + " cuts (replay with -Dcgw.crash.seed="
                + seed + ")");
        Random schedule = new Random(seed);
        List<String> command = WriterProcess.command(dir);
        long acknowledged = 0;
        long durable = 0;
        long dropped = 0;
        try (FaultFs fs = FaultFs.mountIn(Files.createDirectory(dir.resolve("fs")))) {
            Path storeDir = fs.mountPoint().resolve("store");
            try (BlockStore store = BlockStore.open(storeDir, CrashWriter.storeOptions())) {
                store.createVolume(CrashWriter.VOLUME, CrashWriter.VOLUME_SIZE_BYTES);
            }
            RecoveredStore.State state = RecoveredStore.State.empty();
            for (int round = 1; round <= CUTS; round++) {
                boolean duringOpen = schedule.nextInt(8) == 0;
                int delayMs = duringOpen ? schedule.nextInt(800) : 200 + schedule.nextInt(1300);
                List<String> writtenBack = WRITTEN_BACK.stream().filter(glob -> schedule.nextBoolean()).toList();
                String where = "round " + round + " of seed " + seed + " (replay with -Dcgw.crash.seed=" + seed
                        + "), killed " + delayMs + " ms after " + (duringOpen ? "start" : "READY")
                        + ", written back " + writtenBack;
                Path journal = dir.resolve("journal-" + round);
                WriterProcess.Child child = WriterProcess.Child.start(command, storeDir, journal, seed, round, true);
                if (!duringOpen) {
                    child.awaitReady(where);
                }
                // part of the scenario, not a wait for a condition: the kill lands at a seeded moment of the run
                Thread.sleep(delayMs);
                child.kill(where);
                writtenBack.forEach(fs::persist);
                FaultFs.Cut cut = fs.powerCut();
                dropped += cut.pagesRestored() + cut.pagesLost() + cut.filesResized();
                Journal.History history = Journal.read(journal);
                state = RecoveredStore.check(storeDir, history, state, where, true);
                acknowledged += history.acknowledgedCount();
                durable += history.durableCount();
                Files.deleteIfExists(journal);
            }
        }
        System.out.printf("power cut series: %d cuts; %d operations acknowledged, %d of them flushed; %d unsynced"
                + " pages and sizes dropped%n", CUTS, acknowledged, durable, dropped);
        assertThat(durable).as("flushed operations over all rounds").isPositive();
        assertThat(dropped).as("unsynced pages and sizes the cuts dropped: what makes them power cuts").isPositive();
    }
}
