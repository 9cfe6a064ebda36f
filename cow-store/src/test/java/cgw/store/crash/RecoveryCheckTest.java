package cgw.store.crash;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.assertj.core.api.AbstractStringAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash test's checker against hand-made recovered states: each kind of damage a crash could
 * do is reported, and states a crash may legally leave are not. Two blocks of 4 KiB.
 */
class RecoveryCheckTest {
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    private final byte[] before = new byte[2 * BLOCK];
    private final byte[] after = new byte[2 * BLOCK];

    /** Parses a journal of these lines, so the format is tested with the checker. */
    private Journal.History journal(String... lines) throws IOException {
        Path file = Files.createTempFile(dir, "journal", "");
        Files.writeString(file, String.join("\n", lines) + "\n");
        return Journal.read(file);
    }

    private void write(byte[] volume, long seq, int from, int to) {
        for (int p = from; p < to; p++) {
            volume[p] = OpContent.byteAt(seq, p);
        }
    }

    private List<String> check(Journal.History history) {
        return RecoveryCheck.run(history, before, after, BLOCK);
    }

    /** The one violation found, for assertions on its text. */
    private AbstractStringAssert<?> assertOnlyViolation(Journal.History history) {
        return assertThat(check(history)).singleElement().asString();
    }

    @Test
    void flushedUnflushedAndInFlightWritesMayAllBeThere() throws IOException {
        Journal.History history = journal(
                "S 1 DATA 0 4096", "A 1", "F 1", "D 1",
                "S 2 DATA 100 5000", "A 2",
                "S 3 DATA 6000 10");
        write(after, 1, 0, 100);
        write(after, 2, 100, 5100);
        write(after, 3, 6000, 6010);
        assertThat(check(history)).isEmpty();
    }

    @Test
    void inFlightWriteMayBeMissingWhole() throws IOException {
        write(before, 9, 0, 2 * BLOCK);
        System.arraycopy(before, 0, after, 0, after.length);
        assertThat(check(journal("S 1 DATA 10 5000", "S 2 TRIM 0 8192"))).isEmpty();
    }

    @Test
    void lostFlushedWrite() throws IOException {
        Journal.History history = journal("S 1 DATA 0 4096", "A 1", "F 1", "D 1");
        assertOnlyViolation(history).startsWith("LOST FLUSHED WRITE: bytes [0, 4096)");
    }

    @Test
    void lostFlushedZeroes() throws IOException {
        write(before, 9, 0, 2 * BLOCK);
        System.arraycopy(before, 0, after, 0, after.length);
        Journal.History history = journal("S 1 ZEROES 4000 200", "A 1", "F 1", "D 1");
        assertThat(check(history)).hasSize(2).allMatch(v -> v.startsWith("LOST FLUSHED WRITE"));
    }

    @Test
    void unfinishedFlushPromisesNothingButTheAcknowledgementDoes() throws IOException {
        Journal.History history = journal("S 1 DATA 0 4096", "A 1", "F 1");
        assertOnlyViolation(history).startsWith("LOST ACKNOWLEDGED WRITE: bytes [0, 4096)");
    }

    @Test
    void olderWriteBackOverAFlushedOne() throws IOException {
        Journal.History history = journal("S 1 DATA 0 4096", "A 1", "S 2 DATA 0 4096", "A 2", "F 1", "D 1");
        write(after, 1, 0, BLOCK);
        assertOnlyViolation(history).startsWith("LOST FLUSHED WRITE");
    }

    @Test
    void writeLostWhileALaterOneIsVisible() throws IOException {
        Journal.History history = journal("S 1 DATA 0 4096", "A 1", "S 2 DATA 4096 4096");
        write(after, 2, BLOCK, 2 * BLOCK);
        assertOnlyViolation(history).startsWith("NOT A POINT IN TIME: bytes [0, 4096)");
    }

    @Test
    void writeHalfInABlock() throws IOException {
        Journal.History history = journal("S 1 DATA 2048 2048", "A 1", "S 2 DATA 0 4096");
        write(after, 2, 0, 2048);
        write(after, 1, 2048, BLOCK);
        assertOnlyViolation(history).startsWith("TORN WRITE: bytes [2048, 4096)");
    }

    @Test
    void mixOfTwoWritesInOneSegment() throws IOException {
        Journal.History history = journal("S 1 DATA 0 4096", "A 1", "S 2 DATA 0 4096");
        write(after, 1, 0, 1000);
        write(after, 2, 1000, BLOCK);
        assertOnlyViolation(history).startsWith("TORN OR FOREIGN DATA: bytes [0, 4096)");
    }

    @Test
    void dataNoOperationWrote() throws IOException {
        write(after, 1, 0, BLOCK);
        write(after, 7, 5000, 5001);
        assertOnlyViolation(journal("S 1 DATA 0 4096", "A 1")).startsWith("TORN OR FOREIGN DATA: bytes [4096, 8192)");
    }

    @Test
    void lastLineWithoutNewlineIsDropped() throws IOException {
        Path file = dir.resolve("cut");
        Files.writeString(file, "S 1 DATA 0 10\nA 1\nS 2 DATA 0 1");
        Journal.History history = Journal.read(file);
        assertThat(history.ops()).singleElement().matches(Journal.Op::acknowledged);
        assertThat(history.lines()).isEqualTo(2);
    }
}
