package cgw.nbd.handshake;

import cgw.nbd.export.Export;
import cgw.nbd.export.ExportInfo;
import cgw.nbd.export.ExportNotFoundException;
import cgw.nbd.export.ExportRegistry;
import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.Option;
import cgw.nbd.wire.OptionReply;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fixed newstyle negotiation of one connection: greets, reads the client flags, then answers
 * options until the client picks an export with {@code NBD_OPT_GO} or {@code NBD_OPT_EXPORT_NAME}.
 * It then hands the connection over through {@link Transmission} and removes itself; bytes the
 * client already sent pass on to the transmission handlers.
 *
 * <p>Threads: the channel's event loop only; one instance per connection. With TLS configured
 * the server is FORCEDTLS: before {@code STARTTLS}, every option but {@code ABORT} is answered
 * {@code NBD_REP_ERR_TLS_REQD}, and {@code EXPORT_NAME} closes the connection.
 */
public final class HandshakeHandler extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(HandshakeHandler.class);

    /** Options with more data than this are skipped and refused with ERR_TOO_BIG. */
    static final int MAX_OPTION_BYTES = 64 << 10;
    /** Options with more data than this are a hostile client: the connection is closed. */
    static final int MAX_SKIPPED_OPTION_BYTES = 1 << 20;
    static final int MAX_META_QUERIES = 64;
    /** The context id of {@code base:allocation} when selected. */
    public static final int ALLOCATION_CONTEXT_ID = 1;
    private static final String BASE_ALLOCATION = "base:allocation";

    /** Installs the transmission phase once an export is chosen. */
    @FunctionalInterface
    public interface Transmission {
        void start(ChannelHandlerContext ctx, Export export, boolean structured, int allocationContextId);
    }

    private enum State { CLIENT_FLAGS, OPTION_HEADER, OPTION_DATA, SKIP_OPTION, DONE }

    private final ExportRegistry exports;
    private final SslContext tls;
    private final int maxPayloadBytes;
    private final Transmission transmission;

    private State state = State.CLIENT_FLAGS;
    private boolean noZeroes;
    private int option;
    private long optionLength;
    private long skipBytes;
    private boolean tlsActive;
    private boolean structured;
    /** Export name the last SET_META_CONTEXT selected base:allocation for; null when none. */
    private String allocationExport;

    public HandshakeHandler(ExportRegistry exports, SslContext tls, int maxPayloadBytes, Transmission transmission) {
        this.exports = exports;
        this.tls = tls;
        this.maxPayloadBytes = maxPayloadBytes;
        this.transmission = transmission;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        ByteBuf greeting = ctx.alloc().buffer(18);
        greeting.writeLong(Nbd.NBDMAGIC).writeLong(Nbd.IHAVEOPT).writeShort(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
        ctx.writeAndFlush(greeting);
        super.channelActive(ctx);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        // an option without data is complete as soon as its header is: keep going while there is progress
        State before;
        do {
            before = state;
            step(ctx, in);
        } while (state != before && state != State.DONE);
    }

    private void step(ChannelHandlerContext ctx, ByteBuf in) {
        switch (state) {
            case CLIENT_FLAGS -> {
                if (in.readableBytes() < 4) {
                    return;
                }
                int flags = in.readInt();
                if ((flags & ~(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)) != 0) {
                    hangUp(ctx, String.format("unknown client flags 0x%08x", flags));
                    return;
                }
                noZeroes = (flags & Nbd.FLAG_C_NO_ZEROES) != 0;
                state = State.OPTION_HEADER;
            }
            case OPTION_HEADER -> {
                if (in.readableBytes() < Nbd.OPTION_HEADER_BYTES) {
                    return;
                }
                long magic = in.readLong();
                if (magic != Nbd.IHAVEOPT) {
                    hangUp(ctx, String.format("bad option magic 0x%016x", magic));
                    return;
                }
                option = in.readInt();
                optionLength = in.readUnsignedInt();
                if (optionLength > MAX_SKIPPED_OPTION_BYTES) {
                    hangUp(ctx, "option " + option + " claims " + optionLength + " bytes of data");
                    return;
                }
                if (optionLength > MAX_OPTION_BYTES) {
                    skipBytes = optionLength;
                    state = State.SKIP_OPTION;
                } else {
                    state = State.OPTION_DATA;
                }
            }
            case SKIP_OPTION -> {
                int skip = (int) Math.min(skipBytes, in.readableBytes());
                in.skipBytes(skip);
                skipBytes -= skip;
                if (skipBytes == 0) {
                    state = State.OPTION_HEADER;
                    replyError(ctx, option, OptionReply.ERR_TOO_BIG, "option data of " + optionLength
                            + " bytes is over the limit of " + MAX_OPTION_BYTES);
                }
            }
            case OPTION_DATA -> {
                if (in.readableBytes() < optionLength) {
                    return;
                }
                ByteBuf data = in.readSlice((int) optionLength);
                state = State.OPTION_HEADER;
                handleOption(ctx, Option.of(option), data);
            }
            case DONE -> {
                // the transmission handlers take over what follows
            }
        }
    }

    private void handleOption(ChannelHandlerContext ctx, Option kind, ByteBuf data) {
        log.debug("option {} ({}) with {} bytes", kind, option, data.readableBytes());
        if (tls != null && !tlsActive && kind != Option.STARTTLS && kind != Option.ABORT) {
            if (kind == Option.EXPORT_NAME) {
                hangUp(ctx, "NBD_OPT_EXPORT_NAME before STARTTLS on a TLS-only server");
            } else {
                replyError(ctx, option, OptionReply.ERR_TLS_REQD, "this server requires TLS: use STARTTLS first");
            }
            return;
        }
        try {
            dispatchOption(ctx, kind, data);
        } catch (InvalidOption e) {
            replyError(ctx, option, OptionReply.ERR_INVALID, e.getMessage());
        }
    }

    private void dispatchOption(ChannelHandlerContext ctx, Option kind, ByteBuf data) {
        switch (kind) {
            case ABORT -> {
                replyOption(ctx, option, OptionReply.ACK, null).addListener(ChannelFutureListener.CLOSE);
                state = State.DONE;
            }
            case STARTTLS -> startTls(ctx, data);
            case LIST -> list(ctx, data);
            case STRUCTURED_REPLY -> {
                if (data.isReadable()) {
                    replyError(ctx, option, OptionReply.ERR_INVALID, "STRUCTURED_REPLY takes no data");
                } else {
                    structured = true;
                    replyOption(ctx, option, OptionReply.ACK, null);
                }
            }
            case INFO, GO -> infoOrGo(ctx, kind == Option.GO, data);
            case EXPORT_NAME -> exportName(ctx, data);
            case LIST_META_CONTEXT, SET_META_CONTEXT -> metaContext(ctx, kind == Option.SET_META_CONTEXT, data);
            default -> replyError(ctx, option, OptionReply.ERR_UNSUP, "option " + option + " is not supported");
        }
    }

    private void startTls(ChannelHandlerContext ctx, ByteBuf data) {
        if (tls == null) {
            replyError(ctx, option, OptionReply.ERR_POLICY, "TLS is not enabled on this server");
        } else if (tlsActive) {
            replyError(ctx, option, OptionReply.ERR_INVALID, "TLS is already active");
        } else if (data.isReadable()) {
            replyError(ctx, option, OptionReply.ERR_INVALID, "STARTTLS takes no data");
        } else {
            // startTls=true: the ACK below still goes out in clear text, everything after is TLS
            SslHandler ssl = tls.newHandler(ctx.alloc());
            ctx.pipeline().addFirst("tls", new SslHandler(ssl.engine(), true));
            replyOption(ctx, option, OptionReply.ACK, null);
            tlsActive = true;
            structured = false;
            allocationExport = null;
        }
    }

    private void list(ChannelHandlerContext ctx, ByteBuf data) {
        if (data.isReadable()) {
            replyError(ctx, option, OptionReply.ERR_INVALID, "LIST takes no data");
            return;
        }
        for (ExportInfo export : exports.list()) {
            byte[] name = utf8(export.name());
            byte[] description = utf8(export.description());
            ByteBuf payload = ctx.alloc().buffer(4 + name.length + description.length);
            payload.writeInt(name.length).writeBytes(name).writeBytes(description);
            replyOption(ctx, option, OptionReply.SERVER, payload);
        }
        replyOption(ctx, option, OptionReply.ACK, null);
    }

    private void infoOrGo(ChannelHandlerContext ctx, boolean go, ByteBuf data) {
        String name = lengthPrefixedString(data, 2, "export name");
        int requests = data.readUnsignedShort();
        if (data.readableBytes() != 2 * requests) {
            throw new InvalidOption("information request count " + requests + " does not match the option length");
        }
        List<Integer> wanted = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            wanted.add(data.readUnsignedShort());
        }
        ExportInfo info = name.isEmpty() ? null : exports.find(name);
        if (info == null) {
            replyError(ctx, option, OptionReply.ERR_UNKNOWN, name.isEmpty()
                    ? "there is no default export: name a volume" : "no export named '" + name + "'");
            return;
        }
        Export export = null;
        if (go) {
            try {
                export = exports.open(name);
                info = export.info();
            } catch (ExportNotFoundException e) {
                replyError(ctx, option, OptionReply.ERR_UNKNOWN, e.getMessage());
                return;
            }
        }
        ByteBuf exportInfo = ctx.alloc().buffer(12);
        exportInfo.writeShort(Nbd.INFO_EXPORT).writeLong(info.sizeBytes()).writeShort(transmissionFlags(info));
        replyOption(ctx, option, OptionReply.INFO, exportInfo);
        if (wanted.contains(Nbd.INFO_NAME)) {
            replyInfoString(ctx, Nbd.INFO_NAME, info.name());
        }
        if (wanted.contains(Nbd.INFO_DESCRIPTION)) {
            replyInfoString(ctx, Nbd.INFO_DESCRIPTION, info.description());
        }
        ByteBuf blockSize = ctx.alloc().buffer(14);
        blockSize.writeShort(Nbd.INFO_BLOCK_SIZE).writeInt(1).writeInt(4096).writeInt(maxPayloadBytes);
        replyOption(ctx, option, OptionReply.INFO, blockSize);
        replyOption(ctx, option, OptionReply.ACK, null);
        if (go) {
            enterTransmission(ctx, export);
        }
    }

    private void exportName(ChannelHandlerContext ctx, ByteBuf data) {
        String name = string(data, data.readableBytes());
        Export export;
        try {
            export = name == null || name.isEmpty() ? null : exports.open(name);
        } catch (ExportNotFoundException e) {
            export = null;
        }
        if (export == null) {
            // EXPORT_NAME cannot answer an error: the protocol says to end the session
            hangUp(ctx, "unknown export '" + name + "' asked with NBD_OPT_EXPORT_NAME");
            return;
        }
        ByteBuf reply = ctx.alloc().buffer(noZeroes ? 10 : 134);
        reply.writeLong(export.info().sizeBytes()).writeShort(transmissionFlags(export.info()));
        if (!noZeroes) {
            reply.writeZero(124);
        }
        ctx.writeAndFlush(reply);
        enterTransmission(ctx, export);
    }

    /** LIST_META_CONTEXT and SET_META_CONTEXT: only {@code base:allocation} exists. */
    private void metaContext(ChannelHandlerContext ctx, boolean set, ByteBuf data) {
        if (set) {
            allocationExport = null; // replaced even when this request fails
        }
        if (!structured) {
            replyError(ctx, option, OptionReply.ERR_INVALID, "negotiate structured replies first");
            return;
        }
        String name = lengthPrefixedString(data, 4, "export name");
        long queries = data.readUnsignedInt();
        if (queries > MAX_META_QUERIES) {
            replyError(ctx, option, OptionReply.ERR_TOO_BIG, queries + " queries; at most " + MAX_META_QUERIES);
            return;
        }
        boolean allocation = !set && queries == 0;
        for (int i = 0; i < queries; i++) {
            String query = lengthPrefixedString(data, 0, "query " + i);
            if (!query.contains(":")) {
                throw new InvalidOption("query '" + query + "' has no namespace");
            }
            allocation |= query.equals(BASE_ALLOCATION) || !set && query.equals("base:");
        }
        if (data.isReadable()) {
            throw new InvalidOption(data.readableBytes() + " bytes after the last query");
        }
        if (exports.find(name) == null) {
            replyError(ctx, option, OptionReply.ERR_UNKNOWN, "no export named '" + name + "'");
            return;
        }
        if (allocation) {
            byte[] context = utf8(BASE_ALLOCATION);
            ByteBuf payload = ctx.alloc().buffer(4 + context.length);
            payload.writeInt(set ? ALLOCATION_CONTEXT_ID : 0).writeBytes(context);
            replyOption(ctx, option, OptionReply.META_CONTEXT, payload);
            if (set) {
                allocationExport = name;
            }
        }
        replyOption(ctx, option, OptionReply.ACK, null);
    }

    private int transmissionFlags(ExportInfo info) {
        int flags = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_CACHE
                // true: every connection writes to one store, and a flush syncs its single WAL
                | Nbd.FLAG_CAN_MULTI_CONN;
        if (structured) {
            flags |= Nbd.FLAG_SEND_DF;
        }
        if (info.readOnly()) {
            flags |= Nbd.FLAG_READ_ONLY;
        } else {
            flags |= Nbd.FLAG_SEND_TRIM | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_FAST_ZERO;
        }
        return flags;
    }

    private void enterTransmission(ChannelHandlerContext ctx, Export export) {
        state = State.DONE;
        int allocation = export.info().name().equals(allocationExport) ? ALLOCATION_CONTEXT_ID : 0;
        log.debug("entering transmission on {} (structured {}, allocation context {})",
                export.info().name(), structured, allocation);
        transmission.start(ctx, export, structured, allocation);
        ctx.pipeline().remove(this);
    }

    // ---------------------------------------------------------------- replies

    private io.netty.channel.ChannelFuture replyOption(ChannelHandlerContext ctx, int opt, OptionReply type, ByteBuf payload) {
        int length = payload == null ? 0 : payload.readableBytes();
        ByteBuf header = ctx.alloc().buffer(20);
        header.writeLong(Nbd.OPTION_REPLY_MAGIC).writeInt(opt).writeInt(type.code).writeInt(length);
        if (payload == null) {
            return ctx.writeAndFlush(header);
        }
        ctx.write(header);
        return ctx.writeAndFlush(payload);
    }

    private void replyError(ChannelHandlerContext ctx, int opt, OptionReply type, String message) {
        log.debug("option {} refused with {}: {}", opt, type, message);
        byte[] text = utf8(message);
        replyOption(ctx, opt, type, ctx.alloc().buffer(text.length).writeBytes(text));
    }

    private void replyInfoString(ChannelHandlerContext ctx, int infoType, String value) {
        byte[] text = utf8(value);
        ByteBuf payload = ctx.alloc().buffer(2 + text.length);
        payload.writeShort(infoType).writeBytes(text);
        replyOption(ctx, option, OptionReply.INFO, payload);
    }

    private void hangUp(ChannelHandlerContext ctx, String why) {
        log.info("closing NBD connection from {} during the handshake: {}", ctx.channel().remoteAddress(), why);
        state = State.DONE;
        ctx.close();
    }

    /** Malformed option data, answered with {@code NBD_REP_ERR_INVALID} and this message. */
    private static final class InvalidOption extends RuntimeException {
        InvalidOption(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Reads a string preceded by its 32-bit length, leaving at least {@code trailingBytes} of the
     * option after it.
     */
    private static String lengthPrefixedString(ByteBuf data, int trailingBytes, String what) {
        if (data.readableBytes() < 4 + trailingBytes) {
            throw new InvalidOption(what + " is cut short");
        }
        long length = data.readUnsignedInt();
        if (length > data.readableBytes() - trailingBytes) {
            throw new InvalidOption(what + " length " + length + " overruns the option");
        }
        String value = string(data, (int) length);
        if (value == null) {
            throw new InvalidOption(what + " is not valid UTF-8 of at most " + Nbd.MAX_STRING_BYTES + " bytes");
        }
        return value;
    }

    /** Reads {@code length} bytes as strict UTF-8 (at most 4096 bytes), or null when invalid. */
    private static String string(ByteBuf data, int length) {
        ByteBuffer bytes = data.nioBuffer(data.readerIndex(), length);
        data.skipBytes(length);
        if (length > Nbd.MAX_STRING_BYTES) {
            return null;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static byte[] utf8(String value) {
        return value.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("NBD handshake with {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
