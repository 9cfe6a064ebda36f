package cgw.api;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.List;

/**
 * Aggregates a request into one message of at most {@code maxBodyBytes} and answers a larger one
 * with a JSON 413, then closes the connection. Before closing it reads and drops the rest of the
 * body (up to {@link #MAX_DRAIN_BYTES}), so the client has sent everything and reads the 413
 * instead of a connection reset. One instance per connection, run by its event loop.
 */
final class RequestBodyLimit extends HttpObjectAggregator {
    /** Most body bytes read and dropped after a 413 before the connection is closed anyway. */
    static final long MAX_DRAIN_BYTES = 16L << 20;

    private boolean draining;
    private long drainedBytes;
    private ChannelFuture refusal;

    RequestBodyLimit(int maxBodyBytes) {
        // true: close after refusing an 'Expect: 100-continue' request, whose body never comes
        super(maxBodyBytes, true);
    }

    @Override
    protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
        Object response = super.newContinueResponse(start, maxContentLength, pipeline);
        if (response instanceof HttpResponse answer
                && answer.status().code() == HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE.code()) {
            ReferenceCountUtil.release(response);
            return tooLarge();
        }
        return response;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        draining = true;
        drainedBytes = 0;
        refusal = ctx.writeAndFlush(tooLarge());
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, HttpObject msg, List<Object> out) throws Exception {
        if (draining && msg instanceof HttpContent content) {
            drainedBytes += content.content().readableBytes();
        }
        // while draining, the aggregator drops contents until the next request
        super.decode(ctx, msg, out);
        // the refused body ends here, or was already whole when the limit was crossed
        if (draining && (msg instanceof LastHttpContent || drainedBytes > MAX_DRAIN_BYTES)) {
            draining = false;
            refusal.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        if (draining) {
            ctx.read(); // auto-read is off: keep pulling the rest of the refused body
        }
        super.channelReadComplete(ctx);
    }

    private HttpResponse tooLarge() {
        Reply reply = ApiErrors.reply(ApiError.PAYLOAD_TOO_LARGE,
                "the request body is larger than " + maxContentLength() + " bytes");
        return HttpReplies.encode(reply, false);
    }
}
