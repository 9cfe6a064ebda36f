package cgw.nbd.handshake;

import cgw.nbd.wire.Option;
import cgw.nbd.wire.OptionReply;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;

/**
 * The FORCEDTLS policy, as a layer in front of the negotiation: until the channel speaks TLS,
 * every option but {@code STARTTLS} and {@code ABORT} is refused with {@code NBD_REP_ERR_TLS_REQD},
 * and {@code EXPORT_NAME}, which cannot be refused, ends the session. Installed only on a server
 * configured with TLS; it passes everything on once TLS is on.
 *
 * <p>Threads: the channel's event loop only. Never answers an option it lets through.
 */
final class TlsRequired extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof OptionRequest request) || ctx.pipeline().get(SslHandler.class) != null) {
            ctx.fireChannelRead(msg);
            return;
        }
        Option kind = Option.of(request.code());
        if (kind == Option.STARTTLS || kind == Option.ABORT) {
            ctx.fireChannelRead(msg);
            return;
        }
        request.data().release();
        if (kind == Option.EXPORT_NAME) {
            OptionReplies.hangUp(ctx, "NBD_OPT_EXPORT_NAME before STARTTLS on a TLS-only server");
        } else {
            OptionReplies.refuse(ctx, request.code(), OptionReply.ERR_TLS_REQD,
                    "this server requires TLS: use STARTTLS first");
        }
    }
}
