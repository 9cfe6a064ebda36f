package cgw.tests.faults;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.BlockStore;
import cgw.store.StoreException;
import cgw.store.Volume;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A power cut after writes nobody flushed, on a disk that keeps only what was synced (faultfs):
 * every block reads as its flushed content or as the later write, never as an error. RocksDB
 * flushes memtables meanwhile and syncs the table files, so pointers to the unflushed writes reach
 * the disk; the bytes they point to must be there first.
 */
class PowerCutTest {
    static final int FLUSHED = 1;
    static final int UNFLUSHED = 2;
    private static final int BLOCK = 4096;
    private static final int VOLUME_MIB = 128;

    @TempDir
    Path dir;

    @Test
    void blocksReadAsFlushedOrAsTheLaterWriteAfterAPowerCut() throws Exception {
        Outcome outcome = killWriteAndCut("cut", fs -> {
        });
        assertThat(outcome.wrong).as("blocks that read wrong (%d)", outcome.wrong.size()).isEmpty();
        // the memtables RocksDB flushed carried some of them over the cut: the case this is about
        assertThat(outcome.later).as("blocks of the unflushed write that survived").isPositive();
    }

    /**
     * The kernel wrote the WAL back (RocksDB asks it to every MiB) but not the value log: the WAL
     * leads to bytes that are gone, and its replay must drop those writes.
     */
    @Test
    void blocksReadAsFlushedOrAsTheLaterWriteWhenOnlyTheWalReachedTheDisk() throws Exception {
        Outcome outcome = killWriteAndCut("cut", fs -> assertThat(fs.persist("store/*.log")).isPositive());
        assertThat(outcome.wrong).as("blocks that read wrong (%d)", outcome.wrong.size()).isEmpty();
    }

    /**
     * The second write is over flushed blocks of the head epoch, which the store overwrites in
     * place once their range is recorded; the kernel wrote the segments back but not their CRC
     * tables. The new bytes under their old CRCs would fail their checksums: the open takes the
     * bytes of the recorded ranges as they are.
     */
    @Test
    void flushedBlocksOfTheHeadReadAsFlushedOrLaterWhenOnlyTheSegmentsReachedTheDisk() throws Exception {
        Outcome outcome = killWriteAndCut("head", fs -> assertThat(fs.persist("store/values/*.seg")).isPositive());
        assertThat(outcome.wrong).as("blocks that read wrong (%d)", outcome.wrong.size()).isEmpty();
    }

    /** The same with the WAL and the CRC tables written back, and not the segments. */
    @Test
    void flushedBlocksOfTheHeadReadAsFlushedOrLaterWhenTheWalAndTablesReachedTheDisk() throws Exception {
        Outcome outcome = killWriteAndCut("head", fs -> {
            assertThat(fs.persist("store/*.log")).isPositive();
            fs.persist("store/values/*.crc");
        });
        assertThat(outcome.wrong).as("blocks that read wrong (%d)", outcome.wrong.size()).isEmpty();
    }

    /** Blocks of the unflushed write that read as written, and blocks that read as neither. */
    private record Outcome(int later, List<String> wrong) {
    }

    /**
     * Runs {@link UnflushedWriter} ({@code mode}) on faultfs, kills it, runs {@code beforeCut},
     * cuts the power, reopens the store and reads every block.
     */
    private Outcome killWriteAndCut(String mode, Consumer<FaultFs> beforeCut) throws Exception {
        try (FaultFs fs = FaultFs.mountIn(dir)) {
            Path store = fs.mountPoint().resolve("store");
            Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"), UnflushedWriter.class.getName(), store.toString(),
                    Integer.toString(VOLUME_MIB), mode).redirectError(dir.resolve("child.log").toFile()).start();
            try {
                awaitLine(child, "written", dir.resolve("child.log"));
            } finally {
                child.destroyForcibly();
                assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            }
            beforeCut.accept(fs);
            fs.powerCut();

            int later = 0;
            List<String> wrong = new ArrayList<>();
            try (BlockStore reopened = BlockStore.open(store, UnflushedWriter.options())) {
                Volume volume = reopened.volume("disk");
                ByteBuffer block = ByteBuffer.allocateDirect(BLOCK);
                for (long offset = 0; offset < (long) VOLUME_MIB << 20; offset += BLOCK) {
                    block.clear();
                    try {
                        reopened.read(volume, offset, block);
                    } catch (StoreException e) {
                        wrong.add(offset + ": " + e.getMessage());
                        continue;
                    }
                    if (is(block, offset, UNFLUSHED)) {
                        later++;
                    } else if (!is(block, offset, FLUSHED)) {
                        wrong.add(offset + ": neither the flushed bytes nor the later write");
                    }
                }
            }
            return new Outcome(later, wrong);
        }
    }

    /** Fills {@code buffer} with the blocks of {@code pattern} from volume offset {@code offset}. */
    static void fill(ByteBuffer buffer, long offset, int pattern) {
        for (int at = 0; at < buffer.limit(); at += 8) {
            buffer.putLong(at, word(offset + at, pattern));
        }
        buffer.position(buffer.limit());
    }

    private static boolean is(ByteBuffer block, long offset, int pattern) {
        for (int at = 0; at < BLOCK; at += 8) {
            if (block.getLong(at) != word(offset + at, pattern)) {
                return false;
            }
        }
        return true;
    }

    /** The 8 bytes of {@code pattern} at volume offset {@code position}: each names where it belongs. */
    private static long word(long position, int pattern) {
        return position * 31 + pattern;
    }

    private static void awaitLine(Process child, String line, Path log) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        for (String read = out.readLine(); read != null; read = out.readLine()) {
            if (read.equals(line)) {
                return;
            }
        }
        throw new AssertionError("the writer ended before printing " + line + "; its log:\n" + Files.readString(log));
    }
}
