package cgw.store;

import static cgw.store.StoreTesting.options;
import static cgw.store.StoreTesting.read;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import cgw.store.key.CrcSlot;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An overwrite in place writes the CRC table slots, then the bytes, then (the first time) the
 * pointer that sends reads to the table. A crash after the bytes and before that pointer leaves a
 * pointer with the old CRC over new bytes: the table names them, and every read path finds them
 * there. Bytes the table does not name either are damage.
 */
class OverwriteCrashTest {
    private static final int BLOCK = 4096;
    private static final int RUN = InPlaceOverwrites.MIN_RUN_BYTES;

    @TempDir
    Path dir;

    @Test
    void bytesOverwrittenBeforeTheirPointerReadAsTheTableNamesThem() throws IOException {
        SplittableRandom random = new SplittableRandom(11);
        byte[] old = bytes(random, RUN);
        byte[] replacement = bytes(random, RUN);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 2 * RUN);
            store.write(volume, RUN, ByteBuffer.wrap(old));
            store.flush();
        }
        // what the overwrite wrote before the crash: slots, then bytes; its pointer never came
        overwriteWithoutPointer(1, old, replacement);
        Path segment = dir.resolve(ValueLog.DIRECTORY).resolve(String.format("%010d.seg", 1));
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), RUN, RUN)).as("a long read").isEqualTo(replacement);
            for (int at = 0; at < RUN; at += BLOCK) {
                ByteBuffer one = ByteBuffer.allocateDirect(BLOCK);
                store.read(volume, RUN + at, one);
                assertThat(one.clear()).as("block %d read alone", at / BLOCK)
                        .isEqualTo(ByteBuffer.wrap(replacement, at, BLOCK));
            }
            assertThat(read(store, volume, volume.headEpoch(), RUN + BLOCK + 100, 50)).as("a partial read")
                    .isEqualTo(Arrays.copyOfRange(replacement, BLOCK + 100, BLOCK + 150));
        }
        try (FileChannel file = FileChannel.open(segment, StandardOpenOption.WRITE)) {
            file.write(ByteBuffer.wrap(bytes(random, BLOCK)), 2 * BLOCK);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThatThrownBy(() -> read(store, volume, volume.headEpoch(), RUN, RUN))
                    .isInstanceOf(StoreException.class).hasMessageContaining("fails its checksum")
                    .hasMessageContaining("at " + 2 * BLOCK + " of value log segment 1");
        }
    }

    /**
     * The cleaner moves such a block with the CRCs the table slot names (the pointer's own fit
     * neither the old nor the new bytes): its copy reads, after the move and after a restart.
     */
    @Test
    void bytesOverwrittenBeforeTheirPointerReadAfterTheCleanerMovesThem() throws IOException {
        SplittableRandom random = new SplittableRandom(12);
        byte[] old = bytes(random, RUN);
        byte[] replacement = bytes(random, RUN);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 2 * RUN);
            store.write(volume, RUN, ByteBuffer.wrap(old));
            // a block after the run in the same segment, then dead: the segment is worth cleaning
            store.write(volume, 0, ByteBuffer.wrap(bytes(random, BLOCK)));
            store.flush();
        }
        overwriteWithoutPointer(1, old, replacement);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            store.trim(volume, 0, BLOCK);
            store.collectGarbage();
            assertThat(store.valueLogBytes()).as("segment 1 cleaned: only the run is left").isEqualTo(RUN);
            assertThat(read(store, volume, volume.headEpoch(), RUN, RUN)).as("after the move").isEqualTo(replacement);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), RUN, RUN)).as("after a restart")
                    .isEqualTo(replacement);
        }
    }

    /** What an overwrite of the run at the start of {@code segment} wrote before a crash: slots, then bytes. */
    private void overwriteWithoutPointer(int segment, byte[] old, byte[] replacement) throws IOException {
        Path values = dir.resolve(ValueLog.DIRECTORY);
        ByteBuffer slots = ByteBuffer.allocate(RUN / BLOCK * CrcSlot.LENGTH);
        for (int at = 0; at < RUN; at += BLOCK) {
            CrcSlot.append(slots, crc(replacement, at), crc(old, at), 7);
        }
        try (FileChannel file = FileChannel.open(values.resolve(String.format("%010d.crc", segment)),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            file.write(slots.flip(), 0);
        }
        try (FileChannel file = FileChannel.open(values.resolve(String.format("%010d.seg", segment)),
                StandardOpenOption.WRITE)) {
            file.write(ByteBuffer.wrap(replacement), 0);
        }
    }

    private static int crc(byte[] data, int at) {
        CRC32C crc = new CRC32C();
        crc.update(data, at, BLOCK);
        return (int) crc.getValue();
    }

    private static byte[] bytes(SplittableRandom random, int length) {
        byte[] data = new byte[length];
        random.nextBytes(data);
        return data;
    }
}
