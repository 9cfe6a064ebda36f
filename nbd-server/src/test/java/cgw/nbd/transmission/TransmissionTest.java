package cgw.nbd.transmission;

import static cgw.nbd.transmission.Frames.request;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.host.InFlight;
import cgw.nbd.StoreFixture;
import cgw.nbd.Wire;
import cgw.nbd.export.Export;
import cgw.nbd.wire.Command;
import cgw.nbd.wire.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Queue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole transmission pipeline on an embedded channel over a real store's export: requests
 * in as bytes, replies out as bytes. Store calls run on the test's thread, or wait in a queue
 * the test runs when it wants them to complete.
 */
class TransmissionTest {
    private static final int MAX_PAYLOAD_BYTES = 1 << 20;
    private static final int ALLOCATION_CONTEXT_ID = 1;
    private static final int DATA_BYTES = StructuredReads.MIN_HOLE_BYTES;

    @TempDir
    Path dir;
    private StoreFixture fixture;
    private EmbeddedChannel channel;
    /** Store calls waiting for the test to run them, when the test holds them back. */
    private final Queue<Runnable> storeCalls = new ArrayDeque<>();
    private final InFlight serverInFlight = new InFlight("test");

    @AfterEach
    void close() {
        fixture.close();
    }

    private void connect(boolean structured, boolean holdStoreCalls, int maxInFlightRequests) {
        fixture = new StoreFixture(dir, holdStoreCalls ? storeCalls::add : Runnable::run);
        Export export = fixture.exports.open(StoreFixture.VOLUME);
        channel = fixture.attach(new EmbeddedChannel());
        TransmissionPipeline.install(channel.pipeline(), null, export, structured,
                MetaContexts.allocation(ALLOCATION_CONTEXT_ID),
                MAX_PAYLOAD_BYTES, maxInFlightRequests, 64L << 20, serverInFlight, new MemoryBudget(1L << 30), 30_000);
    }

    private void connect(boolean structured) {
        connect(structured, false, 128);
    }

    @ParameterizedTest(name = "byte at a time: {0}")
    @ValueSource(booleans = {false, true})
    void whatIsWrittenReadsBackInSimpleReplies(boolean byteAtATime) {
        connect(false);
        byte[] data = pattern(8192);
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        stream.writeBytes(request(Command.WRITE, Nbd.CMD_FLAG_FUA, 1, 4096, data.length, data));
        stream.writeBytes(request(Command.FLUSH, 2, 0, 0));
        stream.writeBytes(request(Command.READ, 3, 4096, data.length));
        stream.writeBytes(request(Command.READ, 4, 4096, 0));
        Wire.send(channel, stream.toByteArray(), byteAtATime);

        ByteBuf replies = Wire.received(channel);
        assertThat(Frames.simpleReply(replies, 1)).isZero();
        assertThat(Frames.simpleReply(replies, 2)).isZero();
        assertThat(Frames.simpleReply(replies, 3)).isZero();
        assertThat(Wire.bytes(replies.readSlice(data.length))).isEqualTo(data);
        assertThat(Frames.simpleReply(replies, 4)).isZero();
        assertThat(replies.isReadable()).isFalse();
        assertThat(serverInFlight.count()).isZero();
    }

    @Test
    void aLongStructuredReadAnswersLongZeroRunsWithHoleChunks() {
        connect(true);
        byte[] data = pattern(DATA_BYTES);
        int readBytes = 4 * DATA_BYTES;
        Wire.send(channel, request(Command.WRITE, 0, 1, 0, data.length, data), false);
        Wire.send(channel, request(Command.READ, 2, 0, readBytes), false);

        ByteBuf replies = Wire.received(channel);
        assertThat(Frames.simpleReply(replies, 1)).isZero();
        Frames.Chunk first = Frames.chunk(replies, 2);
        assertThat(first.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
        assertThat(first.done()).isFalse();
        assertThat(first.payload().readLong()).as("data offset").isZero();
        assertThat(Wire.bytes(first.payload())).isEqualTo(data);
        Frames.Chunk hole = Frames.chunk(replies, 2);
        assertThat(hole.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_HOLE);
        assertThat(hole.done()).isTrue();
        assertThat(hole.payload().readLong()).as("hole offset").isEqualTo(DATA_BYTES);
        assertThat(hole.payload().readInt()).as("hole length").isEqualTo(readBytes - DATA_BYTES);
        assertThat(replies.isReadable()).isFalse();
    }

    @Test
    void aStructuredReadWithDfOrAShortZeroRunIsOneDataChunk() {
        connect(true);
        byte[] data = pattern(DATA_BYTES);
        int readBytes = 4 * DATA_BYTES;
        Wire.send(channel, request(Command.WRITE, 0, 1, 0, data.length, data), false);
        Wire.send(channel, request(Command.READ, Nbd.CMD_FLAG_DF, 2, 0, readBytes, null), false);
        // a zero run shorter than a hole is worth, between data
        Wire.send(channel, request(Command.READ, 0, 3, DATA_BYTES - 4096, StructuredReads.MIN_HOLE_BYTES, null), false);

        ByteBuf replies = Wire.received(channel);
        Frames.simpleReply(replies, 1);
        Frames.Chunk whole = Frames.chunk(replies, 2);
        assertThat(whole.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
        assertThat(whole.done()).isTrue();
        assertThat(whole.payload().readLong()).isZero();
        byte[] expected = Arrays.copyOf(data, readBytes);
        assertThat(Wire.bytes(whole.payload())).isEqualTo(expected);
        Frames.Chunk mixed = Frames.chunk(replies, 3);
        assertThat(mixed.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
        assertThat(mixed.done()).isTrue();
        assertThat(mixed.payload().readLong()).isEqualTo(DATA_BYTES - 4096);
        assertThat(mixed.payload().readableBytes()).isEqualTo(StructuredReads.MIN_HOLE_BYTES);
        assertThat(replies.isReadable()).isFalse();
    }

    @Test
    void blockStatusDescribesDataThenHole() {
        connect(true);
        byte[] data = pattern(DATA_BYTES);
        Wire.send(channel, request(Command.WRITE, 0, 1, 0, data.length, data), false);
        Wire.send(channel, request(Command.BLOCK_STATUS, 2, 0, StoreFixture.SIZE_BYTES), false);
        Wire.send(channel, request(Command.BLOCK_STATUS, Nbd.CMD_FLAG_REQ_ONE, 3, 0, StoreFixture.SIZE_BYTES, null),
                false);

        ByteBuf replies = Wire.received(channel);
        Frames.simpleReply(replies, 1);
        Frames.Chunk status = Frames.chunk(replies, 2);
        assertThat(status.type()).isEqualTo(Nbd.REPLY_TYPE_BLOCK_STATUS);
        assertThat(status.done()).isTrue();
        assertThat(status.payload().readInt()).isEqualTo(ALLOCATION_CONTEXT_ID);
        assertThat(status.payload().readInt()).isEqualTo(DATA_BYTES);
        assertThat(status.payload().readInt()).as("data").isZero();
        assertThat(status.payload().readInt()).isEqualTo(StoreFixture.SIZE_BYTES - DATA_BYTES);
        assertThat(status.payload().readInt()).as("hole").isEqualTo(Nbd.STATE_HOLE | Nbd.STATE_ZERO);
        assertThat(status.payload().isReadable()).isFalse();
        Frames.Chunk one = Frames.chunk(replies, 3);
        assertThat(one.payload().readableBytes()).as("context id and one descriptor").isEqualTo(12);
        assertThat(replies.isReadable()).isFalse();
    }

    @Test
    void repliesReturnTheirCreditsSoReadingResumes() {
        connect(false, true, 4);
        byte[] data = pattern(4096);
        for (int cookie = 1; cookie <= 4; cookie++) {
            Wire.send(channel, request(Command.WRITE, 0, cookie, 4096L * cookie, data.length, data), false);
        }
        assertThat(channel.config().isAutoRead()).as("4 writes wait for the store").isFalse();
        assertThat(Wire.received(channel).isReadable()).isFalse();

        storeCalls.poll().run();
        storeCalls.poll().run();
        ByteBuf replies = Wire.received(channel);
        assertThat(Frames.simpleReply(replies, 1)).isZero();
        assertThat(Frames.simpleReply(replies, 2)).isZero();
        assertThat(channel.config().isAutoRead()).as("half answered").isTrue();
        for (Runnable call; (call = storeCalls.poll()) != null;) {
            call.run();
        }
        assertThat(serverInFlight.count()).isZero();
    }

    @Test
    void aBurstInOneReadIsDispatchedOnlyUpToTheBoundTheRestOnceRepliesGoOut() {
        connect(false, true, 4);
        byte[] data = pattern(4096);
        ByteArrayOutputStream burst = new ByteArrayOutputStream();
        for (int cookie = 1; cookie <= 20; cookie++) {
            burst.writeBytes(request(Command.WRITE, 0, cookie, 4096L * cookie, data.length, data));
        }
        Wire.send(channel, burst.toByteArray(), false);
        assertThat(storeCalls).as("one read of 20 requests dispatches only the 4 allowed in flight").hasSize(4);
        assertThat(serverInFlight.count()).isEqualTo(4);

        storeCalls.poll().run();
        storeCalls.poll().run();
        channel.runPendingTasks();
        assertThat(storeCalls).as("half answered: the decoder goes on with what it holds, to the bound").hasSize(4);
        int replies = 0;
        for (int round = 0; round < 20 && !storeCalls.isEmpty(); round++) {
            for (Runnable call; (call = storeCalls.poll()) != null;) {
                call.run();
            }
            channel.runPendingTasks();
        }
        ByteBuf out = Wire.received(channel);
        for (int cookie = 1; cookie <= 20; cookie++) {
            assertThat(Frames.simpleReply(out, cookie)).isZero();
            replies++;
        }
        assertThat(replies).isEqualTo(20);
        assertThat(serverInFlight.count()).isZero();
    }

    @Test
    void theExportClosesWhenTheConnectionEndsAndItsRequestsAreAnswered() {
        connect(false, true, 128);
        byte[] data = pattern(4096);
        Wire.send(channel, request(Command.WRITE, 0, 1, 0, data.length, data), false);
        channel.close();
        assertThat(fixture.exports.openConnections(StoreFixture.VOLUME)).as("a write in flight").isEqualTo(1);

        storeCalls.poll().run();
        channel.runPendingTasks();
        assertThat(fixture.exports.openConnections(StoreFixture.VOLUME)).isZero();
    }

    private static byte[] pattern(int length) {
        byte[] bytes = new byte[length];
        new java.util.Random(length).nextBytes(bytes);
        bytes[0] = 1; // data shows in a granule's first bytes
        return bytes;
    }
}
