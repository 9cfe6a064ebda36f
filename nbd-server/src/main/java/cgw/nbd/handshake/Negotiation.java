package cgw.nbd.handshake;

import static cgw.nbd.handshake.OptionData.lengthPrefixedString;
import static cgw.nbd.handshake.OptionData.utf8;

import cgw.nbd.export.ChangedSince;
import cgw.nbd.export.Export;
import cgw.nbd.export.ExportInfo;
import cgw.nbd.export.ExportNotFoundException;
import cgw.nbd.export.ExportPolicy;
import cgw.nbd.export.ExportRegistry;
import cgw.nbd.export.MetaContextRefusedException;
import cgw.nbd.handshake.OptionData.InvalidOption;
import cgw.nbd.transmission.MetaContexts;
import cgw.nbd.wire.ExportNameReplyDescriptor;
import cgw.nbd.wire.InfoBlockSizeDescriptor;
import cgw.nbd.wire.InfoExportDescriptor;
import cgw.nbd.wire.InfoStringDescriptor;
import cgw.nbd.wire.MetaContextReplyDescriptor;
import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.Option;
import cgw.nbd.wire.OptionReply;
import cgw.nbd.wire.ServerReplyDescriptor;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers the options of a fixed newstyle handshake until the client picks an export with
 * {@code NBD_OPT_GO} or {@code NBD_OPT_EXPORT_NAME}; then installs the transmission phase and
 * removes the handshake's handlers, and bytes the client already sent pass on to transmission.
 *
 * <p>Threads: the channel's event loop only; one instance per connection. Never reads the store:
 * exports are found through the registry, which answers from memory.
 */
final class Negotiation extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Negotiation.class);

    static final int MAX_META_QUERIES = 64;
    /** The context id of {@code base:allocation} when selected. */
    static final int ALLOCATION_CONTEXT_ID = 1;
    /** The context id of {@code cgw:changed-since:ID} when selected. */
    static final int CHANGES_CONTEXT_ID = 2;
    private static final String BASE_ALLOCATION = "base:allocation";
    /** The block sizes advertised in NBD_INFO_BLOCK_SIZE: any byte, preferably whole 4 KiB blocks. */
    private static final int MINIMUM_BLOCK_BYTES = 1;
    private static final int PREFERRED_BLOCK_BYTES = 4096;

    private final ExportRegistry exports;
    private final ExportPolicy policy;
    /** Null when the server has no TLS: STARTTLS is refused. */
    private final @Nullable SslContext tls;
    private final int maxPayloadBytes;
    private final HandshakePipeline.Transmission transmission;

    private boolean noZeroes;
    private boolean tlsActive;
    private boolean structured;
    /** Export name the last SET_META_CONTEXT selected contexts for; null when none. */
    private @Nullable String contextsExport;
    private MetaContexts contexts = MetaContexts.NONE;

    Negotiation(ExportRegistry exports, ExportPolicy policy, @Nullable SslContext tls, int maxPayloadBytes,
            HandshakePipeline.Transmission transmission) {
        this.exports = exports;
        this.policy = policy;
        this.tls = tls;
        this.maxPayloadBytes = maxPayloadBytes;
        this.transmission = transmission;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ClientFlags flags) {
            noZeroes = flags.noZeroes();
            return;
        }
        OptionRequest request = (OptionRequest) msg;
        try {
            answer(ctx, Option.of(request.code()), request.code(), request.data());
        } catch (InvalidOption e) {
            OptionReplies.refuse(ctx, request.code(), OptionReply.ERR_INVALID, String.valueOf(e.getMessage()));
        } finally {
            ReferenceCountUtil.release(request.data());
        }
    }

    private void answer(ChannelHandlerContext ctx, Option kind, int option, ByteBuf data) {
        log.debug("option {} ({}) with {} bytes", kind, option, data.readableBytes());
        switch (kind) {
            case ABORT -> {
                OptionDecoder.stop(ctx.channel());
                OptionReplies.reply(ctx, option, OptionReply.ACK, null).addListener(ChannelFutureListener.CLOSE);
            }
            case STARTTLS -> startTls(ctx, option, data);
            case LIST -> list(ctx, option, data);
            case STRUCTURED_REPLY -> {
                if (data.isReadable()) {
                    OptionReplies.refuse(ctx, option, OptionReply.ERR_INVALID, "STRUCTURED_REPLY takes no data");
                } else {
                    structured = true;
                    OptionReplies.reply(ctx, option, OptionReply.ACK, null);
                }
            }
            case INFO, GO -> infoOrGo(ctx, option, kind == Option.GO, data);
            case EXPORT_NAME -> exportName(ctx, data);
            case LIST_META_CONTEXT, SET_META_CONTEXT -> metaContext(ctx, option, kind == Option.SET_META_CONTEXT, data);
            default ->
                OptionReplies.refuse(ctx, option, OptionReply.ERR_UNSUP, "option " + option + " is not supported");
        }
    }

    private void startTls(ChannelHandlerContext ctx, int option, ByteBuf data) {
        if (tls == null) {
            OptionReplies.refuse(ctx, option, OptionReply.ERR_POLICY, "TLS is not enabled on this server");
        } else if (tlsActive) {
            OptionReplies.refuse(ctx, option, OptionReply.ERR_INVALID, "TLS is already active");
        } else if (data.isReadable()) {
            OptionReplies.refuse(ctx, option, OptionReply.ERR_INVALID, "STARTTLS takes no data");
        } else {
            // startTls=true: the ACK below still goes out in clear text, everything after is TLS
            SslHandler ssl = tls.newHandler(ctx.alloc());
            ctx.pipeline().addFirst("tls", new SslHandler(ssl.engine(), true));
            OptionReplies.reply(ctx, option, OptionReply.ACK, null);
            tlsActive = true;
            structured = false;
            contextsExport = null;
        }
    }

    private void list(ChannelHandlerContext ctx, int option, ByteBuf data) {
        if (data.isReadable()) {
            OptionReplies.refuse(ctx, option, OptionReply.ERR_INVALID, "LIST takes no data");
            return;
        }
        String client = PeerName.of(ctx.pipeline());
        for (ExportInfo export : exports.list()) {
            if (!policy.allows(export.name(), client)) {
                continue;
            }
            OptionReplies.reply(ctx, option, OptionReply.SERVER,
                    ServerReplyDescriptor.encode(ctx.alloc(), utf8(export.name()), utf8(export.description())));
        }
        OptionReplies.reply(ctx, option, OptionReply.ACK, null);
    }

    private void infoOrGo(ChannelHandlerContext ctx, int option, boolean go, ByteBuf data) {
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
            OptionReplies.refuse(ctx, option, OptionReply.ERR_UNKNOWN, name.isEmpty()
                    ? "there is no default export: name a volume"
                    : "no export named '" + name + "'");
            return;
        }
        if (!allowed(ctx, option, name)) {
            return;
        }
        Export export = null;
        if (go) {
            try {
                export = exports.open(name);
                info = export.info();
            } catch (ExportNotFoundException e) {
                OptionReplies.refuse(ctx, option, OptionReply.ERR_UNKNOWN, String.valueOf(e.getMessage()));
                return;
            }
        }
        OptionReplies.reply(ctx, option, OptionReply.INFO,
                InfoExportDescriptor.encode(ctx.alloc(), info.sizeBytes(), transmissionFlags(info)));
        if (wanted.contains(Nbd.INFO_NAME)) {
            OptionReplies.reply(ctx, option, OptionReply.INFO,
                    InfoStringDescriptor.encode(ctx.alloc(), Nbd.INFO_NAME, utf8(info.name())));
        }
        if (wanted.contains(Nbd.INFO_DESCRIPTION)) {
            OptionReplies.reply(ctx, option, OptionReply.INFO,
                    InfoStringDescriptor.encode(ctx.alloc(), Nbd.INFO_DESCRIPTION, utf8(info.description())));
        }
        OptionReplies.reply(ctx, option, OptionReply.INFO, InfoBlockSizeDescriptor.encode(ctx.alloc(),
                MINIMUM_BLOCK_BYTES, PREFERRED_BLOCK_BYTES, maxPayloadBytes));
        OptionReplies.reply(ctx, option, OptionReply.ACK, null);
        if (export != null) {
            enterTransmission(ctx, export);
        }
    }

    private void exportName(ChannelHandlerContext ctx, ByteBuf data) {
        String name = OptionData.string(data, data.readableBytes());
        if (name != null && !policy.allows(name, PeerName.of(ctx.pipeline()))) {
            OptionReplies.hangUp(ctx, "client " + describe(PeerName.of(ctx.pipeline())) + " may not open export '"
                    + name + "' (asked with NBD_OPT_EXPORT_NAME)");
            return;
        }
        Export export;
        try {
            export = name == null || name.isEmpty() ? null : exports.open(name);
        } catch (ExportNotFoundException e) {
            export = null;
        }
        if (export == null) {
            // EXPORT_NAME cannot answer an error: the protocol says to end the session
            OptionReplies.hangUp(ctx, "unknown export '" + name + "' asked with NBD_OPT_EXPORT_NAME");
            return;
        }
        ctx.writeAndFlush(ExportNameReplyDescriptor.encode(ctx.alloc(), export.info().sizeBytes(),
                transmissionFlags(export.info()), noZeroes));
        enterTransmission(ctx, export);
    }

    /**
     * LIST_META_CONTEXT and SET_META_CONTEXT: {@code base:allocation}, and
     * {@code cgw:changed-since:ID} for a snapshot ID older than the export. A query naming a
     * snapshot the export cannot answer for refuses the whole option with the reason, so that the
     * client learns why rather than finding the context missing.
     */
    private void metaContext(ChannelHandlerContext ctx, int option, boolean set, ByteBuf data) {
        if (set) {
            contextsExport = null; // replaced even when this request fails
        }
        if (!structured) {
            OptionReplies.refuse(ctx, option, OptionReply.ERR_INVALID, "negotiate structured replies first");
            return;
        }
        String name = lengthPrefixedString(data, 4, "export name");
        long queries = data.readUnsignedInt();
        if (queries > MAX_META_QUERIES) {
            OptionReplies.refuse(ctx, option, OptionReply.ERR_TOO_BIG,
                    queries + " queries; at most " + MAX_META_QUERIES);
            return;
        }
        boolean allocation = !set && queries == 0;
        List<String> changeSnapshots = new ArrayList<>();
        for (int i = 0; i < queries; i++) {
            String query = lengthPrefixedString(data, 0, "query " + i);
            if (!query.contains(":")) {
                throw new InvalidOption("query '" + query + "' has no namespace");
            }
            allocation |= query.equals(BASE_ALLOCATION) || !set && query.equals("base:");
            String snapshot = query.startsWith(ChangedSince.PREFIX)
                    ? query.substring(ChangedSince.PREFIX.length())
                    : null;
            if (snapshot != null && !changeSnapshots.contains(snapshot)) {
                changeSnapshots.add(snapshot); // the same query twice selects one context
            }
        }
        if (data.isReadable()) {
            throw new InvalidOption(data.readableBytes() + " bytes after the last query");
        }
        if (exports.find(name) == null) {
            OptionReplies.refuse(ctx, option, OptionReply.ERR_UNKNOWN, "no export named '" + name + "'");
            return;
        }
        if (!allowed(ctx, option, name)) {
            return;
        }
        if (set && changeSnapshots.size() > 1) {
            OptionReplies.refuse(ctx, option, OptionReply.ERR_TOO_BIG,
                    "one " + ChangedSince.PREFIX + "ID context at a time; asked for " + changeSnapshots.size());
            return;
        }
        List<ChangedSince> changes = new ArrayList<>();
        for (String snapshot : changeSnapshots) {
            try {
                changes.add(exports.changedSince(name, snapshot));
            } catch (MetaContextRefusedException e) {
                log.info("refused {}{} on export {}: {}", ChangedSince.PREFIX, snapshot, name, e.getMessage());
                OptionReplies.refuse(ctx, option, OptionReply.ERR_INVALID, String.valueOf(e.getMessage()));
                return;
            }
        }
        if (allocation) {
            OptionReplies.reply(ctx, option, OptionReply.META_CONTEXT, MetaContextReplyDescriptor.encode(ctx.alloc(),
                    set ? ALLOCATION_CONTEXT_ID : 0, utf8(BASE_ALLOCATION)));
        }
        for (ChangedSince change : changes) {
            OptionReplies.reply(ctx, option, OptionReply.META_CONTEXT, MetaContextReplyDescriptor.encode(ctx.alloc(),
                    set ? CHANGES_CONTEXT_ID : 0, utf8(change.contextName())));
        }
        if (set) {
            contextsExport = name;
            contexts = changes.isEmpty()
                    ? new MetaContexts(allocation ? ALLOCATION_CONTEXT_ID : 0, 0, null)
                    : new MetaContexts(allocation ? ALLOCATION_CONTEXT_ID : 0, CHANGES_CONTEXT_ID, changes.get(0));
        }
        OptionReplies.reply(ctx, option, OptionReply.ACK, null);
    }

    /** Whether the policy lets this connection's client open {@code name}; refuses the option when not. */
    private boolean allowed(ChannelHandlerContext ctx, int option, String name) {
        String client = PeerName.of(ctx.pipeline());
        if (policy.allows(name, client)) {
            return true;
        }
        OptionReplies.refuse(ctx, option, OptionReply.ERR_POLICY,
                "client " + describe(client) + " may not open export '" + name + "'");
        return false;
    }

    private static String describe(@Nullable String client) {
        return client == null ? "without a TLS certificate" : "'" + client + "'";
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
        MetaContexts selected = export.info().name().equals(contextsExport) ? contexts : MetaContexts.NONE;
        log.debug("entering transmission on {} (structured {}, contexts {})", export.info().name(), structured,
                selected);
        HandshakePipeline.handOver(ctx.pipeline(), transmission, export, structured, selected);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("NBD handshake with {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
