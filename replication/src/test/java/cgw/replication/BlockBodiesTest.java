package cgw.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BlockBodiesTest {
    private record Seen(BlockBodies.Kind kind, int volume, long offset, int length, byte[] data) {
    }

    @Test
    void recordsComeBackAsTheyWentInCompressedOrNot() {
        byte[] random = new byte[256 << 10];
        new Random(7).nextBytes(random);
        byte[] pattern = new byte[64 << 10];
        Arrays.fill(pattern, (byte) 0x5a);
        for (byte[] data : List.of(random, pattern)) {
            BlockBodies.Builder builder = builder();
            builder.add(BlockBodies.Kind.DATA, 1, 4096, data.length, ByteBuffer.wrap(data));
            builder.add(BlockBodies.Kind.ZEROES, 0, 1L << 40, 1 << 30, ByteBuffer.allocate(0));
            builder.add(BlockBodies.Kind.TRIM, 65535, 0, 4096, ByteBuffer.allocate(0));
            byte[] body = bytes(builder.finish(3, 42));
            assertThat(builder.isEmpty()).isTrue();
            assertThat(body.length).as("a body never grows past its raw bytes plus the header")
                    .isLessThanOrEqualTo(BlockBodies.HEADER_BYTES + data.length + 3 * BlockBodies.RECORD_HEADER_BYTES);
            if (data == pattern) {
                assertThat(body.length).as("a pattern compresses").isLessThan(4096);
            }
            assertThat(BlockBodies.header(body)).isEqualTo(new BlockBodies.Header(3, 42));
            List<Seen> seen = read(body);
            assertThat(seen).hasSize(3);
            assertThat(seen.get(0).kind()).isEqualTo(BlockBodies.Kind.DATA);
            assertThat(seen.get(0).data()).isEqualTo(data);
            assertThat(seen.get(0).offset()).isEqualTo(4096);
            assertThat(seen.get(1)).usingRecursiveComparison()
                    .isEqualTo(new Seen(BlockBodies.Kind.ZEROES, 0, 1L << 40, 1 << 30, new byte[0]));
            assertThat(seen.get(2).volume()).isEqualTo(65535);
        }
    }

    /** Compressed bodies decode into one buffer per thread: a shorter one after a longer one holds only its own. */
    @Test
    void aShorterCompressedBodyAfterALongerOneReadsOnlyItsOwnRecords() {
        byte[] longer = new byte[512 << 10];
        Arrays.fill(longer, (byte) 0x11);
        byte[] shorter = new byte[8 << 10];
        Arrays.fill(shorter, (byte) 0x22);
        BlockBodies.Builder builder = builder();
        builder.add(BlockBodies.Kind.DATA, 0, 0, longer.length, ByteBuffer.wrap(longer));
        byte[] first = bytes(builder.finish(1, 1));
        builder.add(BlockBodies.Kind.DATA, 1, 4096, shorter.length, ByteBuffer.wrap(shorter));
        byte[] second = bytes(builder.finish(1, 2));
        assertThat(second.length).as("compressed").isLessThan(shorter.length);

        assertThat(read(first).get(0).data()).isEqualTo(longer);
        List<Seen> seen = read(second);
        assertThat(seen).hasSize(1);
        assertThat(seen.get(0).data()).isEqualTo(shorter);
        assertThat(read(first).get(0).data()).as("and the longer again").isEqualTo(longer);
    }

    @Test
    void aBodyFillsToItsRoomAndNoFurther() {
        BlockBodies.Builder builder = builder();
        byte[] data = new byte[builder.dataRoom()];
        builder.add(BlockBodies.Kind.DATA, 0, 0, data.length, ByteBuffer.wrap(data));
        assertThat(builder.dataRoom()).isZero();
        assertThatThrownBy(() -> builder.add(BlockBodies.Kind.TRIM, 0, 0, 4096, ByteBuffer.allocate(0)))
                .isInstanceOf(IllegalStateException.class);
        assertThat(bytes(builder.finish(1, 1)).length).isLessThanOrEqualTo(1 << 20);
    }

    @Test
    void damagedBodiesAreRefusedBeforeAnyRecordIsApplied() {
        byte[] random = new byte[8192];
        new Random(1).nextBytes(random);
        BlockBodies.Builder builder = builder();
        builder.add(BlockBodies.Kind.TRIM, 0, 0, 4096, ByteBuffer.allocate(0));
        builder.add(BlockBodies.Kind.DATA, 0, 8192, random.length, ByteBuffer.wrap(random));
        byte[] body = bytes(builder.finish(1, 9));

        byte[] flipped = body.clone();
        flipped[flipped.length - 100] ^= 1;
        List<Seen> applied = new ArrayList<>();
        assertThatThrownBy(() -> BlockBodies.records(flipped, (k, v, o, l, d) -> applied.add(null)))
                .isInstanceOf(BlockBodies.MalformedBodyException.class).hasMessageContaining("CRC");
        assertThat(applied).as("records applied from a corrupt body").isEmpty();

        assertThatThrownBy(() -> read(Arrays.copyOf(body, body.length - 1)))
                .isInstanceOf(BlockBodies.MalformedBodyException.class);
        assertThatThrownBy(() -> read(Arrays.copyOf(body, 10)))
                .isInstanceOf(BlockBodies.MalformedBodyException.class).hasMessageContaining("header");
        byte[] foreign = body.clone();
        foreign[0] = 'X';
        assertThatThrownBy(() -> read(foreign)).isInstanceOf(BlockBodies.MalformedBodyException.class)
                .hasMessageContaining("not a block body");
    }

    /** Bodies packed into arrays given back and taken again: what one array held before must not leak into the next. */
    @Test
    void aBodyPackedIntoAReusedArrayHoldsOnlyItsOwnBytes() {
        BodyBuffers buffers = new BodyBuffers(1);
        BlockBodies.Builder builder = new BlockBodies.Builder(CompressionLevel.START, buffers);
        byte[] random = new byte[512 << 10];
        new Random(3).nextBytes(random);
        builder.add(BlockBodies.Kind.DATA, 0, 0, random.length, ByteBuffer.wrap(random));
        BlockBodies.Body raw = builder.finish(1, 1);
        assertThat(read(bytes(raw)).get(0).data()).isEqualTo(random);
        buffers.give(raw.array());

        byte[] pattern = new byte[64 << 10];
        Arrays.fill(pattern, (byte) 0x33);
        builder.add(BlockBodies.Kind.DATA, 1, 8192, pattern.length, ByteBuffer.wrap(pattern));
        BlockBodies.Body packed = builder.finish(1, 2);
        assertThat(packed.array()).as("the array given back").isSameAs(raw.array());
        List<Seen> seen = read(bytes(packed));
        assertThat(seen).hasSize(1);
        assertThat(seen.get(0).data()).isEqualTo(pattern);
    }

    private static BlockBodies.Builder builder() {
        return new BlockBodies.Builder(CompressionLevel.START, new BodyBuffers(0));
    }

    private static byte[] bytes(BlockBodies.Body body) {
        return Arrays.copyOf(body.array(), body.length());
    }

    private static List<Seen> read(byte[] body) {
        List<Seen> seen = new ArrayList<>();
        BlockBodies.records(body, (kind, volume, offset, length, data) -> {
            byte[] bytes = new byte[data.remaining()];
            data.duplicate().get(bytes);
            seen.add(new Seen(kind, volume, offset, length, bytes));
        });
        return seen;
    }
}
