package cgw.store.key;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

class RegionRecordTest {
    private static final int SHIFT = 12;
    private static final int BLOCK = 1 << SHIFT;

    /** Slot values of a random record: null for absent, else a marker or a pointer of any form. */
    private static byte[][] randomSlots(Random random, boolean run) {
        byte[][] slots = new byte[RegionRecord.SLOTS][];
        int segment = random.nextInt(100);
        long position = (long) random.nextInt(1 << 20) << SHIFT;
        for (int slot = 0; slot < RegionRecord.SLOTS; slot++) {
            if (random.nextInt(4) == 0) {
                continue;
            }
            ByteBuffer value;
            int kind = run ? 5 : random.nextInt(6);
            switch (kind) {
                case 0 -> value = ByteBuffer.wrap(new byte[]{BlockValue.ZERO});
                case 1 -> value = ByteBuffer.wrap(new byte[]{BlockValue.HOLE});
                case 2 -> {
                    value = ByteBuffer.allocate(BlockPointer.TABLE_LENGTH);
                    BlockPointer.encodeInTable(value, random.nextInt(), random.nextLong());
                }
                case 3 -> {
                    value = ByteBuffer.allocate(BlockPointer.OVERWRITTEN_LENGTH);
                    BlockPointer.encodeOverwritten(value, random.nextInt(), random.nextLong(), random.nextInt(),
                            random.nextInt(), random.nextInt());
                }
                case 4 -> {
                    value = ByteBuffer.allocate(BlockPointer.LENGTH);
                    BlockPointer.encode(value, random.nextInt(), random.nextLong(), random.nextInt());
                }
                default -> {
                    // appended with the others: the next block of one segment
                    value = ByteBuffer.allocate(BlockPointer.LENGTH);
                    BlockPointer.encode(value, segment, position, random.nextInt());
                    position += BLOCK;
                }
            }
            slots[slot] = value.array();
        }
        if (Arrays.stream(slots).allMatch(v -> v == null)) {
            slots[random.nextInt(RegionRecord.SLOTS)] = new byte[]{BlockValue.HOLE};
        }
        return slots;
    }

    private static RegionRecord record(byte[][] slots) {
        RegionRecord record = new RegionRecord(SHIFT);
        for (int slot = 0; slot < RegionRecord.SLOTS; slot++) {
            if (slots[slot] != null) {
                record.set(slot, ByteBuffer.wrap(slots[slot]));
            }
        }
        return record;
    }

    private static ByteBuffer encoded(RegionRecord record) {
        ByteBuffer out = ByteBuffer.allocate(RegionRecord.MAX_LENGTH);
        int length = record.encode(out);
        return out.limit(length);
    }

    private static void assertHolds(RegionRecord record, byte[][] slots) {
        for (int slot = 0; slot < RegionRecord.SLOTS; slot++) {
            assertThat(record.has(slot)).as("slot %d present", slot).isEqualTo(slots[slot] != null);
            if (slots[slot] != null) {
                ByteBuffer value = record.value(slot);
                byte[] bytes = new byte[value.remaining()];
                value.get(bytes);
                assertThat(bytes).as("slot %d", slot).isEqualTo(slots[slot]);
            }
        }
    }

    @Property
    void everyRecordDecodesToWhatWasEncoded(@ForAll long seed) {
        Random random = new Random(seed);
        boolean run = random.nextBoolean();
        byte[][] slots = randomSlots(random, run);
        ByteBuffer bytes = encoded(record(slots));
        int present = (int) Arrays.stream(slots).filter(v -> v != null).count();
        if (run) {
            assertThat(bytes.remaining()).as("run form").isEqualTo(15 + 4 * present);
        }
        RegionRecord decoded = new RegionRecord(SHIFT);
        decoded.setMarker(3, BlockValue.ZERO); // replaced, not kept
        decoded.decode(bytes);
        assertHolds(decoded, slots);
        assertThat(bytes.position()).as("the source's position").isZero();
    }

    @Property
    void aWriteMergedIntoTheRecordThereKeepsItsOwnSlotsAndTheOthers(@ForAll long seed) {
        Random random = new Random(seed);
        byte[][] there = randomSlots(random, random.nextBoolean());
        byte[][] written = randomSlots(random, random.nextBoolean());
        RegionRecord merged = record(written);
        merged.fillFrom(encoded(record(there)));
        byte[][] expected = new byte[RegionRecord.SLOTS][];
        for (int slot = 0; slot < RegionRecord.SLOTS; slot++) {
            expected[slot] = written[slot] != null ? written[slot] : there[slot];
        }
        assertHolds(merged, expected);
        RegionRecord again = new RegionRecord(SHIFT);
        again.decode(encoded(merged));
        assertHolds(again, expected);
    }

    @Test
    void aRunOfAppendedBlocksIsWrittenCompactly() {
        RegionRecord record = new RegionRecord(SHIFT);
        for (int slot = 0; slot < RegionRecord.SLOTS; slot++) {
            record.setPointer(slot, 7, (100L + slot) << SHIFT, slot * 31);
        }
        assertThat(encoded(record).remaining()).isEqualTo(15 + 4 * RegionRecord.SLOTS);
        // a gap in the log (another write between) is not a run
        record.setPointer(9, 7, 300L << SHIFT, 0);
        assertThat(encoded(record).remaining()).isEqualTo(3 + 17 * RegionRecord.SLOTS);
        // nor is a marker among the pointers
        record.setPointer(9, 7, 109L << SHIFT, 0);
        record.setMarker(15, BlockValue.ZERO);
        assertThat(encoded(record).remaining()).isEqualTo(3 + 17 * 15 + 2);
        record.remove(15);
        assertThat(encoded(record).remaining()).isEqualTo(15 + 4 * 15);
    }

    @Test
    void anEmptyRecordIsNotWritten() {
        RegionRecord record = new RegionRecord(SHIFT);
        record.setMarker(0, BlockValue.HOLE);
        record.remove(0);
        assertThat(record.isEmpty()).isTrue();
        assertThatThrownBy(() -> record.encode(ByteBuffer.allocate(RegionRecord.MAX_LENGTH)))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> record.value(0)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("slot 0");
    }

    @Test
    void valuesThatAreNeitherMarkersNorPointersAreRefused() {
        RegionRecord record = new RegionRecord(SHIFT);
        assertThatThrownBy(() -> record.set(0, ByteBuffer.allocate(BLOCK))).isInstanceOf(
                IllegalArgumentException.class).hasMessageContaining("not 4096 bytes");
        assertThatThrownBy(() -> record.set(0, ByteBuffer.wrap(new byte[]{7})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown block marker 7");
        assertThatThrownBy(() -> record.setMarker(0, (byte) 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void recordsThisStoreDidNotWriteAreRefused() {
        RegionRecord record = new RegionRecord(SHIFT);
        record.setPointer(0, 1, 0, 5);
        record.setMarker(1, BlockValue.ZERO);
        ByteBuffer good = encoded(record);
        byte[] bytes = new byte[good.remaining()];
        good.get(bytes);
        assertCorrupt(Arrays.copyOf(bytes, 2), "of 2 bytes");
        assertCorrupt(Arrays.copyOf(bytes, bytes.length - 1), "slot 1");
        assertCorrupt(Arrays.copyOf(bytes, bytes.length + 3), "3 bytes after its last slot");
        byte[] form = bytes.clone();
        form[2] = 9;
        assertCorrupt(form, "unknown form 9");
        byte[] length = bytes.clone();
        length[3] = 13;
        assertCorrupt(length, "slot 0 value of 13 bytes");
        byte[] marker = bytes.clone();
        marker[bytes.length - 1] = 5;
        assertCorrupt(marker, "unknown marker 5");

        RegionRecord run = new RegionRecord(SHIFT);
        run.setPointer(4, 1, 0, 5);
        ByteBuffer runBytes = encoded(run);
        byte[] noMask = new byte[runBytes.remaining()];
        runBytes.get(noMask);
        noMask[0] = 0;
        noMask[1] = 0;
        assertCorrupt(noMask, "in run form");
        assertCorrupt(Arrays.copyOf(noMask, noMask.length - 1), "in run form");
    }

    private static void assertCorrupt(byte[] bytes, String message) {
        assertThatThrownBy(() -> new RegionRecord(SHIFT).decode(ByteBuffer.wrap(bytes)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message)
                .hasMessageContaining("is not one this store wrote");
    }
}
