package cgw.nbd.transmission;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.nbd.StoreFixture;
import cgw.nbd.Wire;
import cgw.nbd.export.ExportInfo;
import cgw.nbd.wire.Command;
import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.NbdError;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link RequestValidator} alone on an embedded channel, over a real store's export info: what it
 * passes comes out inbound, what it refuses is answered with the error the NBD spec asks for.
 */
class RequestValidatorTest {
    private static final int MAX_PAYLOAD_BYTES = 1 << 20;
    private static final long SIZE = StoreFixture.SIZE_BYTES;

    @TempDir
    Path dir;
    private StoreFixture fixture;
    private EmbeddedChannel channel;

    @BeforeEach
    void openStore() {
        fixture = new StoreFixture(dir, Runnable::run);
    }

    @AfterEach
    void close() {
        fixture.close();
    }

    private void connect(ExportInfo info, boolean structured, int allocationContextId) {
        boolean anyContext = allocationContextId != 0;
        channel = fixture.attach(
                new EmbeddedChannel(new RequestValidator(info, structured, anyContext, MAX_PAYLOAD_BYTES)));
    }

    private ExportInfo head() {
        return fixture.exports.find(StoreFixture.VOLUME);
    }

    static Stream<Arguments> refused() {
        return Stream.of(
                Arguments.of("unknown command", new Request(0, 42, 1, 0, 0, null, false), NbdError.EINVAL),
                Arguments.of("flag not valid for the command",
                        new Request(Nbd.CMD_FLAG_REQ_ONE, Command.READ.code, 1, 0, 512, null, false), NbdError.EINVAL),
                Arguments.of("DF without structured replies",
                        new Request(Nbd.CMD_FLAG_DF, Command.READ.code, 1, 0, 512, null, false), NbdError.EINVAL),
                Arguments.of("flush with a range", new Request(0, Command.FLUSH.code, 1, 0, 512, null, false),
                        NbdError.EINVAL),
                Arguments.of("read over the maximum payload",
                        new Request(0, Command.READ.code, 1, 0, MAX_PAYLOAD_BYTES + 1, null, false), NbdError.EINVAL),
                Arguments.of("write discarded as oversized",
                        new Request(0, Command.WRITE.code, 1, 0, MAX_PAYLOAD_BYTES + 1, null, true), NbdError.EINVAL),
                Arguments.of("read past the end", new Request(0, Command.READ.code, 1, SIZE - 512, 1024, null, false),
                        NbdError.EINVAL),
                Arguments.of("read at an offset past 2^63",
                        new Request(0, Command.READ.code, 1, -512, 512, null, false), NbdError.EINVAL),
                Arguments.of("write zeroes past the end",
                        new Request(0, Command.WRITE_ZEROES.code, 1, SIZE, 1, null, false), NbdError.ENOSPC),
                Arguments.of("trim past the end", new Request(0, Command.TRIM.code, 1, SIZE, 1, null, false),
                        NbdError.EINVAL),
                Arguments.of("block status without a context",
                        new Request(0, Command.BLOCK_STATUS.code, 1, 0, 512, null, false), NbdError.EINVAL));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void aBadRequestIsRefusedWithTheSpecifiedErrorAndGoesNoFurther(String why, Request request, NbdError error) {
        connect(head(), false, 0);
        channel.writeInbound(request);

        assertThat((Object) channel.readInbound()).isNull();
        ByteBuf reply = Wire.received(channel);
        assertThat(Frames.simpleReply(reply, 1)).isEqualTo(error.code);
        assertThat(reply.isReadable()).isFalse();
    }

    @Test
    void aRefusedWriteReleasesItsPayload() {
        connect(head(), false, 0);
        ByteBuf payload = channel.alloc().buffer(1024).writeZero(1024);
        channel.writeInbound(new Request(0, Command.WRITE.code, 3, SIZE, 1024, payload, false));

        assertThat(Frames.simpleReply(Wire.received(channel), 3)).isEqualTo(NbdError.ENOSPC.code);
        assertThat(payload.refCnt()).isZero();
    }

    @Test
    void aSnapshotExportRefusesChangesWithEperm() {
        long epoch = fixture.store.cut(fixture.store.volume(StoreFixture.VOLUME));
        ExportInfo snapshot = fixture.exports.find(StoreFixture.VOLUME + "@" + epoch);
        assertThat(snapshot.readOnly()).isTrue();
        connect(snapshot, false, 0);
        channel.writeInbound(new Request(0, Command.TRIM.code, 4, 0, 4096, null, false));
        channel.writeInbound(new Request(0, Command.READ.code, 5, 0, 4096, null, false));

        assertThat(Frames.simpleReply(Wire.received(channel), 4)).isEqualTo(NbdError.EPERM.code);
        assertThat(((Request) channel.readInbound()).cookie()).isEqualTo(5);
    }

    @Test
    void withStructuredRepliesARefusalCarriesItsReason() {
        connect(head(), true, 0);
        channel.writeInbound(new Request(0, Command.BLOCK_STATUS.code, 6, 0, 512, null, false));

        Frames.Chunk chunk = Frames.chunk(Wire.received(channel), 6);
        assertThat(chunk.type()).isEqualTo(Nbd.REPLY_TYPE_ERROR);
        assertThat(chunk.done()).isTrue();
        assertThat(chunk.payload().readInt()).isEqualTo(NbdError.EINVAL.code);
        int length = chunk.payload().readUnsignedShort();
        assertThat(chunk.payload().readCharSequence(length, StandardCharsets.UTF_8).toString())
                .contains("without a negotiated meta context");
    }

    @Test
    void validRequestsPassAndNothingAfterDiscIsAnswered() {
        connect(head(), true, 1);
        Request read = new Request(Nbd.CMD_FLAG_DF, Command.READ.code, 7, SIZE - 512, 512, null, false);
        Request status = new Request(Nbd.CMD_FLAG_REQ_ONE, Command.BLOCK_STATUS.code, 8, 0, SIZE, null, false);
        Request disc = new Request(0, Command.DISC.code, 9, 0, 0, null, false);
        ByteBuf late = Unpooled.directBuffer(16).writeZero(16);
        channel.writeInbound(read, status, disc, new Request(0, 42, 10, 0, 0, null, false),
                new Request(0, Command.WRITE.code, 11, 0, 16, late, false));

        assertThat((Object) channel.readInbound()).isEqualTo(read);
        assertThat((Object) channel.readInbound()).isEqualTo(status);
        assertThat((Object) channel.readInbound()).isEqualTo(disc);
        assertThat((Object) channel.readInbound()).isNull();
        assertThat(Wire.received(channel).isReadable()).isFalse();
        assertThat(late.refCnt()).isZero();
    }
}
