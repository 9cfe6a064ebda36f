package cgw.api;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.util.Map;

/**
 * Turns a {@link Reply} into an HTTP/1.1 response: JSON body (unless the reply names another
 * {@code Content-Type}), its length, keep-alive or close.
 * Stateless; runs on whichever thread produced the reply, so JSON is written off the event loop
 * for store calls. The body is a wrapped heap array: nothing to release by hand.
 */
final class HttpReplies {
    private HttpReplies() {
    }

    static FullHttpResponse encode(Reply reply, boolean keepAlive) {
        byte[] body = reply.bodyBytes();
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, reply.status(),
                Unpooled.wrappedBuffer(body));
        if (body.length > 0) {
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        }
        if (reply.status().code() != HttpResponseStatus.NO_CONTENT.code()) {
            // RFC 9110: a 204 carries no Content-Length; every other reply does, for keep-alive
            HttpUtil.setContentLength(response, body.length);
        }
        for (Map.Entry<String, String> header : reply.headers().entrySet()) {
            response.headers().set(header.getKey(), header.getValue());
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        return response;
    }
}
