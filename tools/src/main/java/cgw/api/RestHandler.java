package cgw.api;

import cgw.host.InFlight;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dispatches the aggregated requests of one connection: admission, route, token, then the
 * action, on the event loop for public routes and on the {@link StoreCalls} pool for guarded
 * ones. One request at a time: auto-read is off, pipelined requests wait in a small queue, and
 * the next one starts only when the previous reply is written, so replies keep request order and
 * a connection holds at most one pool slot. Its state belongs to the connection's event loop;
 * it never blocks that loop and never calls the store itself.
 */
final class RestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(RestHandler.class);
    /** Most pipelined requests waiting behind the one in progress; a client sending more is cut off. */
    static final int MAX_WAITING_REQUESTS = 16;

    private final Routes routes;
    private final BearerToken token;
    private final Executor storeCalls;
    private final InFlight inFlight;
    private final @Nullable RestTimeouts timeouts;
    /** Requests read while another is in progress, each retained once; released when dispatched. */
    private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
    private boolean busy;

    /** @param storeCalls runs guarded actions: {@link StoreCalls} in service, any executor in tests */
    RestHandler(Routes routes, BearerToken token, Executor storeCalls, InFlight inFlight,
            @Nullable RestTimeouts timeouts) {
        this.routes = routes;
        this.token = token;
        this.storeCalls = storeCalls;
        this.inFlight = inFlight;
        this.timeouts = timeouts;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        ctx.read();
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        releaseWaiting();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseWaiting();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (timeouts != null) {
            timeouts.received();
        }
        if (!busy) {
            busy = true;
            dispatch(ctx, request);
        } else if (waiting.size() < MAX_WAITING_REQUESTS) {
            waiting.add(request.retain());
        } else {
            log.debug("closing REST connection from {}: more than {} pipelined requests",
                    ctx.channel().remoteAddress(), MAX_WAITING_REQUESTS);
            ctx.close();
        }
    }

    /** Starts the reply to {@code request}; {@link #replied} runs once it is written. */
    private void dispatch(ChannelHandlerContext ctx, FullHttpRequest request) {
        String what = request.method() + " " + request.uri();
        if (!request.decoderResult().isSuccess()) {
            // the parser's state is unknown after a bad request line or header: close
            Throwable cause = request.decoderResult().cause();
            send(ctx, HttpReplies.encode(ApiErrors.reply(ApiError.BAD_REQUEST,
                    "malformed HTTP request: " + cause.getMessage()), false), false, false);
            return;
        }
        if (!inFlight.tryEnter()) {
            send(ctx, HttpReplies.encode(ApiErrors.reply(ApiError.UNAVAILABLE, "the gateway is shutting down"), false),
                    false, false);
            return;
        }
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        try {
            QueryStringDecoder uri = new QueryStringDecoder(request.uri());
            String rawPath = uri.rawPath();
            Routes.Match match = routes.find(rawPath);
            boolean guarded = Routes.needsToken(match);
            if (guarded) {
                token.check(request.headers().get(HttpHeaderNames.AUTHORIZATION), request.method());
            }
            if (match == null) {
                throw new ApiException(ApiError.NOT_FOUND, "no route " + rawPath);
            }
            Routes.Action action = match.route().action(request.method(), rawPath);
            ApiRequest apiRequest = new ApiRequest(request.method(), rawPath, match.pathParams(), uri.parameters(),
                    ByteBufUtil.getBytes(request.content()));
            if (guarded) {
                storeCalls.execute(() -> {
                    try {
                        reply(ctx, what, action.handle(apiRequest), null, keepAlive);
                    } catch (Exception | Error e) { // an Error too: the reply must go out, ApiErrors logs it
                        reply(ctx, what, null, e, keepAlive);
                    }
                });
            } else {
                reply(ctx, what, action.handle(apiRequest), null, keepAlive);
            }
        } catch (Exception e) {
            reply(ctx, what, null, e, keepAlive);
        }
    }

    /**
     * Encodes the reply (or the failure's) on the calling thread and writes it; ends the admission.
     * Never throws: on the store pool an exception would vanish with the reply.
     */
    private void reply(ChannelHandlerContext ctx, String what, Reply reply, Throwable failure, boolean keepAlive) {
        FullHttpResponse response;
        boolean open = keepAlive;
        try {
            response = HttpReplies.encode(failure == null ? reply : ApiErrors.reply(failure, what), keepAlive);
        } catch (RuntimeException | Error e) {
            if (failure != null) {
                e.addSuppressed(failure);
            }
            log.error("{}: cannot encode the reply", what, e);
            response = HttpReplies.encode(ApiErrors.reply(ApiError.INTERNAL, "cannot encode the reply: " + e), false);
            open = false;
        }
        log.debug("{} -> {}", what, response.status().code());
        send(ctx, response, open, true);
    }

    /** Writes from any thread; what follows the write runs on the event loop. */
    private void send(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive, boolean admitted) {
        ctx.writeAndFlush(response).addListener((ChannelFutureListener) written -> {
            if (admitted) {
                inFlight.exit();
            }
            if (!written.isSuccess()) {
                log.debug("reply to {} not written: {}", ctx.channel().remoteAddress(), written.cause().toString());
                ctx.close();
            } else if (!keepAlive) {
                ctx.close();
            } else {
                replied(ctx);
            }
        });
    }

    /** The reply is out: start the next waiting request, or read for one. On the event loop. */
    private void replied(ChannelHandlerContext ctx) {
        FullHttpRequest next = waiting.poll();
        if (next == null) {
            busy = false;
            if (timeouts != null) {
                timeouts.idle();
            }
            ctx.read();
            return;
        }
        try {
            dispatch(ctx, next);
        } finally {
            next.release();
        }
    }

    private void releaseWaiting() {
        for (FullHttpRequest request = waiting.poll(); request != null; request = waiting.poll()) {
            request.release();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            log.debug("REST connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("closing REST connection from {}", ctx.channel().remoteAddress(), cause);
        }
        ctx.close();
    }
}
