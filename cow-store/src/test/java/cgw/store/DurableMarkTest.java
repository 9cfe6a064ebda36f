package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DurableMarkTest {
    @TempDir
    Path dir;

    @Test
    void aStoreWithoutTheFileHasNoMark() {
        assertThat(DurableMark.read(dir)).isNull();
    }

    @Test
    void theNewestWrittenMarkIsReadBackWithTheBlockSize() throws IOException {
        try (DurableMark mark = DurableMark.open(dir)) {
            assertThat(mark.durable()).isEqualTo(LogPosition.START);
            mark.write(4096, new LogPosition(3, 8192));
            assertThat(mark.durable()).as("not durable before its sync").isEqualTo(LogPosition.START);
            mark.sync();
            mark.write(4096, new LogPosition(4, 0));
            mark.sync();
            assertThat(mark.durable()).isEqualTo(new LogPosition(4, 0));
        }
        assertThat(DurableMark.read(dir)).isEqualTo(new DurableMark.Stored(4096, new LogPosition(4, 0)));
        try (DurableMark mark = DurableMark.open(dir)) {
            assertThat(mark.durable()).as("what the file says, after a restart").isEqualTo(new LogPosition(4, 0));
            mark.write(4096, new LogPosition(5, 4096));
            mark.sync();
        }
        assertThat(DurableMark.read(dir)).isEqualTo(new DurableMark.Stored(4096, new LogPosition(5, 4096)));
    }

    /** A power cut in the middle of writing a mark spoils that copy only: the one before is read. */
    @Test
    void aTornWriteLeavesTheMarkBeforeIt() throws IOException {
        try (DurableMark mark = DurableMark.open(dir)) {
            mark.write(4096, new LogPosition(1, 0));
            mark.sync();
            mark.write(4096, new LogPosition(2, 0));
            mark.sync();
            mark.write(4096, new LogPosition(3, 0));
            mark.sync();
        }
        // the third write (sequence 3) went to the second copy: tear it
        try (FileChannel file = FileChannel.open(dir.resolve(DurableMark.FILE), StandardOpenOption.WRITE)) {
            file.write(ByteBuffer.wrap(new byte[]{0x7f, 0x7f}), 512 + 26);
        }
        assertThat(DurableMark.read(dir)).isEqualTo(new DurableMark.Stored(4096, new LogPosition(2, 0)));
    }

    @Test
    void aSecondWriteBeforeASyncIsRefused() throws IOException {
        try (DurableMark mark = DurableMark.open(dir)) {
            mark.write(4096, new LogPosition(1, 0));
            mark.write(4096, new LogPosition(1, 0)); // the same mark: nothing to write
            assertThatThrownBy(() -> mark.write(4096, new LogPosition(2, 0)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("not synced");
        }
    }
}
