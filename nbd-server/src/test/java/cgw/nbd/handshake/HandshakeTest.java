package cgw.nbd.handshake;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.nbd.StoreFixture;
import cgw.nbd.Wire;
import cgw.nbd.export.Export;
import cgw.nbd.export.ExportPolicy;
import cgw.nbd.transmission.MetaContexts;
import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.Option;
import cgw.nbd.wire.OptionReply;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The handshake's handlers on an embedded channel, against a real store's exports. */
class HandshakeTest {
    private static final int MAX_PAYLOAD_BYTES = 1 << 20;

    @TempDir
    Path dir;
    private StoreFixture fixture;
    private EmbeddedChannel channel;
    /** What the transmission phase was given, once started. */
    private Export started;
    private boolean startedStructured;
    private int startedContextId = -1;
    private String startedChanges;
    /** The bytes that reached the transmission phase. */
    private final ByteArrayOutputStream passedOn = new ByteArrayOutputStream();

    @BeforeEach
    void openStore() {
        fixture = new StoreFixture(dir, Runnable::run);
    }

    @AfterEach
    void close() {
        if (started != null) {
            started.close();
        }
        fixture.close();
    }

    private ByteBuf connect(SslContext tls) {
        return connect(tls, ExportPolicy.ANYONE);
    }

    private ByteBuf connect(SslContext tls, ExportPolicy policy) {
        channel = fixture.attach(new EmbeddedChannel());
        HandshakePipeline.install(channel.pipeline(), fixture.exports, policy, tls, MAX_PAYLOAD_BYTES,
                this::startTransmission);
        channel.pipeline().fireChannelActive();
        return Wire.received(channel);
    }

    private void startTransmission(ChannelPipeline pipeline, String after, Export export, boolean structured,
            MetaContexts contexts) {
        started = export;
        startedStructured = structured;
        startedContextId = contexts.allocationId();
        startedChanges = contexts.changes() == null ? null : contexts.changes().contextName();
        pipeline.addAfter(after, "capture", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf bytes = (ByteBuf) msg;
                passedOn.writeBytes(Wire.bytes(bytes));
                bytes.release();
            }
        });
    }

    @ParameterizedTest(name = "byte at a time: {0}")
    @ValueSource(booleans = {false, true})
    void goAnswersWhatWasAskedAndHandsTheFollowingBytesToTransmission(boolean byteAtATime) {
        ByteBuf greeting = connect(null);
        assertThat(greeting.readLong()).isEqualTo(Nbd.NBDMAGIC);
        assertThat(greeting.readLong()).isEqualTo(Nbd.IHAVEOPT);
        assertThat(greeting.readUnsignedShort()).isEqualTo(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
        assertThat(greeting.isReadable()).isFalse();

        Client client = new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)
                .option(Option.STRUCTURED_REPLY, new byte[0])
                .option(Option.SET_META_CONTEXT, metaContextData(StoreFixture.VOLUME, "base:allocation"))
                .option(Option.GO, goData(StoreFixture.VOLUME, Nbd.INFO_NAME))
                .raw("after".getBytes(StandardCharsets.US_ASCII));
        Wire.send(channel, client.bytes(), byteAtATime);

        ByteBuf replies = Wire.received(channel);
        assertReply(replies, Option.STRUCTURED_REPLY, OptionReply.ACK);
        ByteBuf context = assertReply(replies, Option.SET_META_CONTEXT, OptionReply.META_CONTEXT);
        assertThat(context.readInt()).isEqualTo(Negotiation.ALLOCATION_CONTEXT_ID);
        assertThat(context.toString(StandardCharsets.UTF_8)).isEqualTo("base:allocation");
        assertReply(replies, Option.SET_META_CONTEXT, OptionReply.ACK);
        ByteBuf export = assertReply(replies, Option.GO, OptionReply.INFO);
        assertThat(export.readUnsignedShort()).isEqualTo(Nbd.INFO_EXPORT);
        assertThat(export.readLong()).isEqualTo(StoreFixture.SIZE_BYTES);
        int flags = export.readUnsignedShort();
        assertThat(flags & Nbd.FLAG_SEND_DF).isNotZero();
        assertThat(flags & Nbd.FLAG_READ_ONLY).isZero();
        ByteBuf name = assertReply(replies, Option.GO, OptionReply.INFO);
        assertThat(name.readUnsignedShort()).isEqualTo(Nbd.INFO_NAME);
        assertThat(name.toString(StandardCharsets.UTF_8)).isEqualTo(StoreFixture.VOLUME);
        ByteBuf blockSize = assertReply(replies, Option.GO, OptionReply.INFO);
        assertThat(blockSize.readUnsignedShort()).isEqualTo(Nbd.INFO_BLOCK_SIZE);
        assertThat(blockSize.readInt()).isEqualTo(1);
        assertThat(blockSize.readInt()).isEqualTo(4096);
        assertThat(blockSize.readInt()).isEqualTo(MAX_PAYLOAD_BYTES);
        assertReply(replies, Option.GO, OptionReply.ACK);
        assertThat(replies.isReadable()).isFalse();

        assertThat(started).isNotNull();
        assertThat(startedStructured).isTrue();
        assertThat(startedContextId).isEqualTo(Negotiation.ALLOCATION_CONTEXT_ID);
        assertThat(channel.pipeline().names()).doesNotContain(HandshakePipeline.DECODER, HandshakePipeline.NEGOTIATION);
        assertThat(passedOn.toString(StandardCharsets.US_ASCII)).isEqualTo("after");
    }

    @ParameterizedTest(name = "no zeroes: {0}")
    @ValueSource(booleans = {false, true})
    void exportNameAnswersSizeAndFlagsWithTheZeroesTheClientAskedFor(boolean noZeroes) {
        connect(null);
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE | (noZeroes ? Nbd.FLAG_C_NO_ZEROES : 0))
                .option(Option.EXPORT_NAME, StoreFixture.VOLUME.getBytes(StandardCharsets.UTF_8)).bytes(), false);

        ByteBuf reply = Wire.received(channel);
        assertThat(reply.readableBytes()).isEqualTo(noZeroes ? 10 : 134);
        assertThat(reply.readLong()).isEqualTo(StoreFixture.SIZE_BYTES);
        assertThat(reply.readUnsignedShort() & Nbd.FLAG_HAS_FLAGS).isNotZero();
        assertThat(started).isNotNull();
        assertThat(startedStructured).isFalse();
    }

    @Test
    void badOptionsAreRefusedAndTheNextOneIsStillAnswered() {
        connect(null);
        byte[] overrun = Unpooled.buffer().writeInt(100).writeBytes("disk".getBytes(StandardCharsets.UTF_8))
                .writeShort(0).array();
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .option(99, new byte[0])
                .option(Option.GO, java.util.Arrays.copyOf(overrun, 10))
                .option(Option.INFO, goData("nosuch"))
                .option(Option.STRUCTURED_REPLY, new byte[]{1})
                .option(Option.LIST, new byte[0]).bytes(), false);

        ByteBuf replies = Wire.received(channel);
        assertReply(replies, 99, OptionReply.ERR_UNSUP);
        assertThat(assertReply(replies, Option.GO.code, OptionReply.ERR_INVALID).toString(StandardCharsets.UTF_8))
                .contains("overruns the option");
        assertReply(replies, Option.INFO, OptionReply.ERR_UNKNOWN);
        assertReply(replies, Option.STRUCTURED_REPLY, OptionReply.ERR_INVALID);
        ByteBuf server = assertReply(replies, Option.LIST, OptionReply.SERVER);
        int nameLength = server.readInt();
        assertThat(server.readCharSequence(nameLength, StandardCharsets.UTF_8).toString())
                .isEqualTo(StoreFixture.VOLUME);
        assertReply(replies, Option.LIST, OptionReply.ACK);
        assertThat(channel.isOpen()).isTrue();
        assertThat(started).isNull();
    }

    @Test
    void anOptionOverTheLimitIsSkippedAndRefusedAsTooBig() {
        connect(null);
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .option(Option.LIST, new byte[OptionDecoder.MAX_OPTION_BYTES + 1])
                .option(Option.LIST, new byte[0]).bytes(), false);

        ByteBuf replies = Wire.received(channel);
        assertReply(replies, Option.LIST, OptionReply.ERR_TOO_BIG);
        assertReply(replies, Option.LIST, OptionReply.SERVER);
        assertReply(replies, Option.LIST, OptionReply.ACK);
        assertThat(channel.isOpen()).isTrue();
    }

    @Test
    void anOptionClaimingMoreThanCanBeSkippedEndsTheSession() {
        connect(null);
        Client client = new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE);
        client.out.writeLong(Nbd.IHAVEOPT).writeInt(Option.LIST.code)
                .writeInt(OptionDecoder.MAX_SKIPPED_OPTION_BYTES + 1);
        Wire.send(channel, client.option(Option.LIST, new byte[0]).bytes(), false);

        assertThat(Wire.received(channel).isReadable()).isFalse();
        assertThat(channel.isOpen()).isFalse();
    }

    @ParameterizedTest(name = "byte at a time: {0}")
    @ValueSource(booleans = {false, true})
    void aBadOptionMagicEndsTheSessionAndNothingAfterIsAnswered(boolean byteAtATime) {
        connect(null);
        Client client = new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE);
        client.out.writeLong(Nbd.IHAVEOPT + 1).writeInt(Option.LIST.code).writeInt(0);
        Wire.send(channel, client.option(Option.GO, goData(StoreFixture.VOLUME)).bytes(), byteAtATime);

        assertThat(Wire.received(channel).isReadable()).isFalse();
        assertThat(channel.isOpen()).isFalse();
        assertThat(started).as("an option after the bad one is acted on").isNull();
    }

    @Test
    void abortIsAcknowledgedAndEndsTheSession() {
        connect(null);
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .option(Option.ABORT, new byte[0])
                .option(Option.GO, goData(StoreFixture.VOLUME)).bytes(), false);

        ByteBuf replies = Wire.received(channel);
        assertReply(replies, Option.ABORT, OptionReply.ACK);
        assertThat(replies.isReadable()).isFalse();
        assertThat(channel.isOpen()).isFalse();
        assertThat(started).as("an option after ABORT is acted on").isNull();
    }

    @Test
    void unknownClientFlagsEndTheSession() {
        connect(null);
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE | 1 << 5)
                .option(Option.LIST, new byte[0]).bytes(), false);

        assertThat(Wire.received(channel).isReadable()).isFalse();
        assertThat(channel.isOpen()).isFalse();
    }

    @Test
    void aTlsServerRefusesEveryOptionButStartTlsAndAbortBeforeTls() throws SSLException {
        connect(SslContextBuilder.forClient().build());
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .option(Option.GO, goData(StoreFixture.VOLUME))
                .option(Option.LIST, new byte[0])
                .option(Option.STRUCTURED_REPLY, new byte[0])
                .option(Option.ABORT, new byte[0])
                .option(Option.LIST, new byte[0]).bytes(), false);

        ByteBuf replies = Wire.received(channel);
        assertReply(replies, Option.GO, OptionReply.ERR_TLS_REQD);
        assertReply(replies, Option.LIST, OptionReply.ERR_TLS_REQD);
        assertReply(replies, Option.STRUCTURED_REPLY, OptionReply.ERR_TLS_REQD);
        assertReply(replies, Option.ABORT, OptionReply.ACK);
        assertThat(replies.isReadable()).as("nothing after ABORT is answered").isFalse();
        assertThat(channel.isOpen()).isFalse();
        assertThat(started).isNull();
    }

    @Test
    void aTlsServerHangsUpOnExportNameBeforeTls() throws SSLException {
        connect(SslContextBuilder.forClient().build());
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .option(Option.EXPORT_NAME, StoreFixture.VOLUME.getBytes(StandardCharsets.UTF_8)).bytes(), false);

        assertThat(Wire.received(channel).isReadable()).isFalse();
        assertThat(channel.isOpen()).isFalse();
        assertThat(started).isNull();
    }

    @Test
    void changedSinceIsSelectedBesideAllocationAndBadSnapshotsAreRefusedWithTheReason() {
        long epoch = fixture.store.cut(fixture.store.volume(StoreFixture.VOLUME));
        String changes = "cgw:changed-since:" + epoch;
        connect(null);
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .option(Option.STRUCTURED_REPLY, new byte[0])
                .option(Option.SET_META_CONTEXT, metaContextData(StoreFixture.VOLUME, "cgw:changed-since:99"))
                .option(Option.SET_META_CONTEXT,
                        metaContextData(StoreFixture.VOLUME, changes, "cgw:changed-since:" + (epoch + 7)))
                .option(Option.LIST_META_CONTEXT, metaContextData(StoreFixture.VOLUME, changes))
                .option(Option.SET_META_CONTEXT,
                        metaContextData(StoreFixture.VOLUME, changes, "base:allocation", changes))
                .option(Option.GO, goData(StoreFixture.VOLUME)).bytes(), false);

        ByteBuf replies = Wire.received(channel);
        assertReply(replies, Option.STRUCTURED_REPLY, OptionReply.ACK);
        assertThat(assertReply(replies, Option.SET_META_CONTEXT, OptionReply.ERR_INVALID)
                .toString(StandardCharsets.UTF_8)).isEqualTo("snapshot 99 does not hold volume disk"
                        + " or a volume it was cloned from");
        assertThat(assertReply(replies, Option.SET_META_CONTEXT, OptionReply.ERR_TOO_BIG)
                .toString(StandardCharsets.UTF_8)).startsWith("one cgw:changed-since:ID context at a time");
        ByteBuf listed = assertReply(replies, Option.LIST_META_CONTEXT, OptionReply.META_CONTEXT);
        assertThat(listed.readInt()).isZero();
        assertThat(listed.toString(StandardCharsets.UTF_8)).isEqualTo(changes);
        assertReply(replies, Option.LIST_META_CONTEXT, OptionReply.ACK);
        ByteBuf allocation = assertReply(replies, Option.SET_META_CONTEXT, OptionReply.META_CONTEXT);
        assertThat(allocation.readInt()).isEqualTo(Negotiation.ALLOCATION_CONTEXT_ID);
        ByteBuf changed = assertReply(replies, Option.SET_META_CONTEXT, OptionReply.META_CONTEXT);
        assertThat(changed.readInt()).isEqualTo(Negotiation.CHANGES_CONTEXT_ID);
        assertThat(changed.toString(StandardCharsets.UTF_8)).isEqualTo(changes);
        assertReply(replies, Option.SET_META_CONTEXT, OptionReply.ACK);
        assertReply(replies, Option.GO, OptionReply.INFO);
        assertReply(replies, Option.GO, OptionReply.INFO);
        assertReply(replies, Option.GO, OptionReply.ACK);
        assertThat(startedContextId).isEqualTo(Negotiation.ALLOCATION_CONTEXT_ID);
        assertThat(startedChanges).isEqualTo(changes);
    }

    @Test
    void anExportThePolicyRefusesIsNotListedNorOpened() {
        List<String> asked = new ArrayList<>();
        connect(null, (export, client) -> {
            asked.add(export + " by " + client);
            return false;
        });
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .option(Option.LIST, new byte[0])
                .option(Option.STRUCTURED_REPLY, new byte[0])
                .option(Option.SET_META_CONTEXT, metaContextData(StoreFixture.VOLUME, "base:allocation"))
                .option(Option.INFO, goData(StoreFixture.VOLUME))
                .option(Option.GO, goData(StoreFixture.VOLUME))
                .option(Option.GO, goData("no-such-volume"))
                .option(Option.EXPORT_NAME, StoreFixture.VOLUME.getBytes(StandardCharsets.UTF_8)).bytes(), false);

        ByteBuf replies = Wire.received(channel);
        assertReply(replies, Option.LIST, OptionReply.ACK);
        assertReply(replies, Option.STRUCTURED_REPLY, OptionReply.ACK);
        ByteBuf why = assertReply(replies, Option.SET_META_CONTEXT, OptionReply.ERR_POLICY);
        assertThat(why.toString(StandardCharsets.UTF_8))
                .isEqualTo("client without a TLS certificate may not open export '" + StoreFixture.VOLUME + "'");
        assertReply(replies, Option.INFO, OptionReply.ERR_POLICY);
        assertReply(replies, Option.GO, OptionReply.ERR_POLICY);
        assertReply(replies, Option.GO, OptionReply.ERR_UNKNOWN);
        assertThat(replies.isReadable()).as("EXPORT_NAME cannot be refused: the session ends").isFalse();
        assertThat(channel.isOpen()).isFalse();
        assertThat(started).isNull();
        assertThat(asked).allMatch(a -> a.endsWith(" by null")).hasSize(5);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void bytesSentAfterStartTlsBeforeItsAnswerEndTheSession(boolean withTls) throws SSLException {
        connect(withTls ? SslContextBuilder.forClient().build() : null);
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .option(Option.STARTTLS, new byte[0])
                .option(Option.LIST, new byte[0]).bytes(), false);

        assertThat(channel.isOpen()).isFalse();
        assertThat(channel.pipeline().get(SslHandler.class)).as("TLS never started").isNull();
        assertThat(Wire.received(channel).isReadable()).as("neither option answered").isFalse();
    }

    @Test
    void startTlsOnAServerWithoutTlsIsRefusedByPolicy() {
        connect(null);
        Wire.send(channel, new Client().flags(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .option(Option.STARTTLS, new byte[0]).bytes(), false);

        assertReply(Wire.received(channel), Option.STARTTLS, OptionReply.ERR_POLICY);
        assertThat(channel.isOpen()).isTrue();
    }

    /** Reads one option reply off {@code replies}, checks its option and type, and returns its payload. */
    private static ByteBuf assertReply(ByteBuf replies, Option option, OptionReply type) {
        return assertReply(replies, option.code, type);
    }

    private static ByteBuf assertReply(ByteBuf replies, int option, OptionReply type) {
        assertThat(replies.readableBytes()).as("an option reply header").isGreaterThanOrEqualTo(20);
        assertThat(replies.readLong()).isEqualTo(Nbd.OPTION_REPLY_MAGIC);
        assertThat(replies.readInt()).as("option").isEqualTo(option);
        assertThat(OptionReplyName.of(replies.readInt())).as("reply type").isEqualTo(type.name());
        return replies.readSlice(replies.readInt());
    }

    /** Names reply types in failure messages. */
    private static final class OptionReplyName {
        static String of(int code) {
            for (OptionReply reply : OptionReply.values()) {
                if (reply.code == code) {
                    return reply.name();
                }
            }
            return Integer.toHexString(code);
        }
    }

    private static byte[] goData(String name, int... infoRequests) {
        ByteBuf data = lengthPrefixed(Unpooled.buffer(), name).writeShort(infoRequests.length);
        for (int request : infoRequests) {
            data.writeShort(request);
        }
        return Wire.bytes(data);
    }

    private static byte[] metaContextData(String name, String... queries) {
        ByteBuf data = lengthPrefixed(Unpooled.buffer(), name).writeInt(queries.length);
        for (String query : queries) {
            lengthPrefixed(data, query);
        }
        return Wire.bytes(data);
    }

    private static ByteBuf lengthPrefixed(ByteBuf out, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        return out.writeInt(bytes.length).writeBytes(bytes);
    }

    /** The bytes a client sends, built up in order. */
    private static final class Client {
        final ByteBuf out = Unpooled.buffer();

        Client flags(int flags) {
            out.writeInt(flags);
            return this;
        }

        Client option(Option option, byte[] data) {
            return option(option.code, data);
        }

        Client option(int option, byte[] data) {
            out.writeLong(Nbd.IHAVEOPT).writeInt(option).writeInt(data.length).writeBytes(data);
            return this;
        }

        Client raw(byte[] bytes) {
            out.writeBytes(bytes);
            return this;
        }

        byte[] bytes() {
            return Wire.bytes(out);
        }
    }
}
