package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FlushedOverwritesTest {
    private static final long RANGE = 65536;

    @TempDir
    Path dir;

    /**
     * A ring full of ranges no sync has covered refuses more (the write appends instead) until a
     * sync covers their window; a range already recorded in the window needs no new record.
     */
    @Test
    void aRingFullOfRangesNoSyncCoveredRefusesMoreUntilOneCoversThem() throws IOException {
        Path values = Files.createDirectories(dir.resolve(ValueLog.DIRECTORY));
        int extra = FlushedOverwrites.RECORDS + 1;
        LogPosition durable = new LogPosition(extra + 1, 0);
        try (FlushedOverwrites record = FlushedOverwrites.open(values, new Durability(dir))) {
            assertThat(record.mark(1, 0, RANGE, durable, true)).as("before the block size is known").isFalse();
            record.useBlockSize(4096);
            for (int segment = 1; segment <= FlushedOverwrites.RECORDS; segment++) {
                assertThat(record.mark(segment, 0, RANGE, durable, true)).isTrue();
            }
            assertThat(record.mark(extra, 0, RANGE, durable, true)).as("full").isFalse();
            assertThat(record.mark(7, RANGE, 2 * RANGE, durable, false)).as("recorded as a whole chunk").isTrue();
            long window = record.closeWindow();
            assertThat(record.mark(extra, 0, RANGE, durable, true)).as("its window not covered yet").isFalse();
            record.covered(window);
            assertThat(record.mark(extra, 0, RANGE, durable, true)).isTrue();
        }
        try (FlushedOverwrites reopened = FlushedOverwrites.open(values, new Durability(dir))) {
            assertThat(reopened.unflushed()).as("after a crash: the last window's range").hasSize(1)
                    .allSatisfy(range -> assertThat(range.segment()).isEqualTo(extra));
        }
    }
}
