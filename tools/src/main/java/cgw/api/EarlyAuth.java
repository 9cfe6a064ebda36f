package cgw.api;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;

/**
 * Checks the token when a request's head arrives, before its body is buffered: a request that
 * will be refused (401, 403) goes on without its body, marked to close the connection, and the
 * body is dropped as it comes. {@link RestHandler} then refuses it in its turn, so replies keep
 * request order. Between the HTTP codec and the body aggregator.
 *
 * <p>Threads: the channel's event loop only; one per connection.
 */
final class EarlyAuth extends ChannelInboundHandlerAdapter {
    private final Routes routes;
    private final BearerToken token;
    private boolean dropping;

    EarlyAuth(Routes routes, BearerToken token) {
        this.routes = routes;
        this.token = token;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (dropping && msg instanceof HttpContent content) {
            dropping = !(content instanceof LastHttpContent);
            ReferenceCountUtil.release(content);
            return;
        }
        if (msg instanceof HttpRequest request && !(msg instanceof FullHttpRequest) && !authorized(request)) {
            FullHttpRequest bodiless = new DefaultFullHttpRequest(request.protocolVersion(), request.method(),
                    request.uri());
            bodiless.headers().set(request.headers()).remove(HttpHeaderNames.CONTENT_LENGTH)
                    .remove(HttpHeaderNames.TRANSFER_ENCODING)
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            bodiless.setDecoderResult(request.decoderResult());
            ReferenceCountUtil.release(msg);
            dropping = true;
            ctx.fireChannelRead(bodiless);
            return;
        }
        ctx.fireChannelRead(msg);
    }

    /** Whether the request's route is public or its token may call it; a bad request is let through to be refused. */
    private boolean authorized(HttpRequest request) {
        if (!request.decoderResult().isSuccess()) {
            return true;
        }
        if (!Routes.needsToken(routes.find(new QueryStringDecoder(request.uri()).rawPath()))) {
            return true;
        }
        try {
            token.check(request.headers().get(HttpHeaderNames.AUTHORIZATION), request.method());
            return true;
        } catch (ApiException e) {
            return false;
        }
    }
}
