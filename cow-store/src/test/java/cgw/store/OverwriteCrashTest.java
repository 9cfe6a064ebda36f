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
        Path segment = dir.resolve(ValueLog.DIRECTORY).resolve(String.format("%010d.seg", 1));
        Path table = dir.resolve(ValueLog.DIRECTORY).resolve(String.format("%010d.crc", 1));
        ByteBuffer slots = ByteBuffer.allocate(RUN / BLOCK * CrcSlot.LENGTH);
        for (int at = 0; at < RUN; at += BLOCK) {
            CrcSlot.append(slots, crc(replacement, at), crc(old, at), 7);
        }
        try (FileChannel file = FileChannel.open(table, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            file.write(slots.flip(), 0);
        }
        try (FileChannel file = FileChannel.open(segment, StandardOpenOption.WRITE)) {
            file.write(ByteBuffer.wrap(replacement), 0);
        }
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
