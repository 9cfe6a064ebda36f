package cgw.store;

import static cgw.store.StoreTesting.copyFiles;
import static cgw.store.StoreTesting.options;
import static cgw.store.StoreTesting.versioned;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.key.CrcSlot;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Flushed bytes rewritten in place three times without a flush, then a power cut that kept a
 * different part of what the kernel had not written back for different blocks: an intermediate
 * write's bytes under a slot naming the last two, the last write's bytes without their slot, the
 * flushed bytes under slots naming neither. The open reads the recorded ranges and keeps every
 * block as its bytes are: each reads as its flushed content or as one of its writes, never as an
 * error, and keeps doing so after another restart.
 */
class FlushedOverwriteCrashTest {
    private static final int BLOCK = 4096;
    private static final int WRITE = 1 << 20;
    private static final int SIZE = 4 * WRITE;
    private static final int BLOCKS = SIZE / BLOCK;

    @TempDir
    Path dir;

    @Test
    void blocksOverwrittenInPlaceSinceTheLastFlushReadAsOneOfTheirWritesAfterAPowerCut() throws IOException {
        Path live = dir.resolve("live");
        Path crashed = dir.resolve("crashed");
        byte[] afterB;
        try (BlockStore store = BlockStore.open(live, options())) {
            Volume volume = store.createVolume("vm", SIZE);
            write(store, volume, 'A');
            store.flush();
            long appended = store.valueLogBytes();
            write(store, volume, 'B');
            afterB = Files.readAllBytes(segment(live, "seg"));
            write(store, volume, 'C');
            write(store, volume, 'D');
            assertThat(store.valueLogBytes()).as("the rewrites went in place").isEqualTo(appended);
            copyFiles(live, crashed); // what a killed process leaves
        }
        // what the disk kept: blocks [0, 64) an intermediate write (B) under slots naming C and D;
        // [64, 128) the last write without its slots; [128, 192) the flushed bytes (A)
        try (FileChannel seg = FileChannel.open(segment(crashed, "seg"), StandardOpenOption.WRITE);
                FileChannel crc = FileChannel.open(segment(crashed, "crc"), StandardOpenOption.WRITE)) {
            seg.write(ByteBuffer.wrap(afterB, 0, 64 * BLOCK), 0);
            crc.write(ByteBuffer.allocate(64 * CrcSlot.LENGTH), 64L * CrcSlot.LENGTH);
            seg.write(versioned('A', 128, 64), 128L * BLOCK);
        }
        for (int restart = 0; restart < 2; restart++) {
            try (BlockStore store = BlockStore.open(crashed, options())) {
                Volume volume = store.volume("vm");
                for (int block = 0; block < BLOCKS; block++) {
                    ByteBuffer one = ByteBuffer.allocateDirect(BLOCK);
                    store.read(volume, (long) block * BLOCK, one);
                    char expected = block < 64 ? 'B' : block >= 128 && block < 192 ? 'A' : 'D';
                    assertThat(one.clear()).as("block %d, restart %d", block, restart)
                            .isEqualTo(versioned(expected, block, 1));
                }
                ByteBuffer all = ByteBuffer.allocateDirect(SIZE);
                store.read(volume, 0, all);
                assertThat(all.clear().slice(64 * BLOCK, 64 * BLOCK)).as("a long read")
                        .isEqualTo(versioned('D', 64, 64));
            }
        }
    }

    private static void write(BlockStore store, Volume volume, char version) {
        for (int offset = 0; offset < SIZE; offset += WRITE) {
            ByteBuffer direct = ByteBuffer.allocateDirect(WRITE);
            direct.put(versioned(version, offset / BLOCK, WRITE / BLOCK)).flip();
            store.write(volume, offset, direct);
        }
    }

    private static Path segment(Path store, String suffix) {
        return store.resolve(ValueLog.DIRECTORY).resolve(String.format("%010d.%s", 1, suffix));
    }

}
