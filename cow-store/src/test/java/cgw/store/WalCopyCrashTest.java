package cgw.store;

import static cgw.store.StoreTesting.copyFiles;
import static cgw.store.StoreTesting.options;
import static cgw.store.StoreTesting.versioned;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Small writes each followed by a flush, as a database's commits are: the flushes sync only the
 * WAL, whose batches carry copies of the bytes. A power cut then takes every page of the value
 * log written after its last sync; the open writes the bytes back from the WAL, and every
 * flushed write reads as it was acknowledged, across restarts.
 */
class WalCopyCrashTest {
    private static final int BLOCK = 4096;
    private static final int SIZE = 4 << 20;
    private static final int BLOCKS = SIZE / BLOCK;
    private static final int SMALL_WRITES = 40;

    @TempDir
    Path dir;

    @Test
    void smallFlushedWritesSurviveAPowerCutThatTookTheLogsUnsyncedPages() throws IOException {
        Path live = dir.resolve("live");
        Path crashed = dir.resolve("crashed");
        long syncedLength;
        try (BlockStore store = BlockStore.open(live, options())) {
            Volume volume = store.createVolume("vm", SIZE);
            store.write(volume, 0, versioned('A', 0, BLOCKS));
            store.flush();
            syncedLength = Files.size(segment(live));
            for (int i = 0; i < SMALL_WRITES; i++) {
                int block = smallWriteBlock(i);
                store.write(volume, (long) block * BLOCK, versioned('B', block, 1));
                store.flush();
            }
            assertThat(Files.size(segment(live))).as("the small writes were appended")
                    .isEqualTo(syncedLength + (long) SMALL_WRITES * BLOCK);
            copyFiles(live, crashed); // the files as the kernel holds them
        }
        // what the disk kept of the log: only what its last sync covered
        try (FileChannel seg = FileChannel.open(segment(crashed), StandardOpenOption.WRITE)) {
            seg.truncate(syncedLength);
        }
        for (int restart = 0; restart < 2; restart++) {
            try (BlockStore store = BlockStore.open(crashed, options())) {
                Volume volume = store.volume("vm");
                ByteBuffer all = ByteBuffer.allocateDirect(SIZE);
                store.read(volume, 0, all);
                for (int block = 0; block < BLOCKS; block++) {
                    char expected = isSmallWriteBlock(block) ? 'B' : 'A';
                    assertThat(all.slice(block * BLOCK, BLOCK)).as("block %d, restart %d", block, restart)
                            .isEqualTo(versioned(expected, block, 1));
                }
            }
        }
    }

    private static int smallWriteBlock(int i) {
        return 7 + i * 13;
    }

    private static boolean isSmallWriteBlock(int block) {
        return block >= 7 && (block - 7) % 13 == 0 && (block - 7) / 13 < SMALL_WRITES;
    }

    private static Path segment(Path store) {
        return store.resolve(ValueLog.DIRECTORY).resolve(String.format("%010d.seg", 1));
    }

}
