package cgw.api;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.host.InFlight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpServerCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** One connection's pipeline on an embedded channel, with guarded actions parked until the test runs them. */
class RestHandlerTest {
    private static final String TOKEN = "secret-token";

    private final ArrayDeque<Runnable> parked = new ArrayDeque<>();
    private final Routes routes = new Routes()
            .addPublic(HttpMethod.GET, "/healthz", request -> Reply.ok(Map.of("status", "ok")))
            .addGuarded(HttpMethod.GET, "/slow", request -> Reply.ok(Map.of("slow", true)));
    private EmbeddedChannel channel = connection(parked::add);

    private EmbeddedChannel connection(Executor storeCalls) {
        EmbeddedChannel connection = new EmbeddedChannel();
        connection.config().setAutoRead(false);
        connection.pipeline().addLast(new HttpServerCodec(), new RequestBodyLimit(RestServer.MAX_BODY_BYTES),
                new RestHandler(routes, new BearerToken(ApiTokens.adminOnly(TOKEN)), storeCalls,
                        new InFlight("REST API"), null));
        return connection;
    }

    @AfterEach
    void close() {
        channel.finishAndReleaseAll();
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() {
        channel.writeInbound(ascii("GET /slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN + "\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
        // the public request must not overtake the guarded one still parked on the store pool
        assertThat(written()).isEmpty();
        assertThat(parked).hasSize(1);

        parked.poll().run();
        channel.runPendingTasks();
        assertThat(statuses(written())).containsExactly("200", "200");
        assertThat(written()).isEmpty();
    }

    @Test
    void tooManyPipelinedRequestsCloseTheConnection() {
        StringBuilder raw = new StringBuilder(
                "GET /slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN + "\r\n\r\n");
        for (int i = 0; i <= RestHandler.MAX_WAITING_REQUESTS; i++) {
            raw.append("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        channel.writeInbound(ascii(raw.toString()));
        assertThat(channel.isOpen()).isFalse();
    }

    @Test
    void aFullStorePoolAnswers503AndTheConnectionGoesOn() {
        channel.finishAndReleaseAll();
        channel = connection(task -> {
            throw new RejectedExecutionException("queue full");
        });
        channel.writeInbound(ascii("GET /slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN + "\r\n\r\n"));
        String reply = written();
        assertThat(statuses(reply)).containsExactly("503");
        assertThat(reply).endsWith(
                "{\"error\":\"unavailable\",\"detail\":\"the gateway has too many requests in flight; retry later\"}");

        channel.writeInbound(ascii("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
        assertThat(statuses(written())).containsExactly("200");
    }

    private static ByteBuf ascii(String text) {
        return Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII);
    }

    /** Everything written so far, as text. */
    private String written() {
        StringBuilder text = new StringBuilder();
        for (ByteBuf buf = channel.readOutbound(); buf != null; buf = channel.readOutbound()) {
            text.append(buf.toString(StandardCharsets.US_ASCII));
            buf.release();
        }
        return text.toString();
    }

    private static List<String> statuses(String text) {
        return Pattern.compile("HTTP/1\\.1 (\\d{3})").matcher(text).results().map(result -> result.group(1)).toList();
    }
}
