package cgw.api;

import cgw.barrier.GroupBarrier;
import cgw.host.InFlight;
import cgw.host.RefusalLog;
import cgw.store.BlockStore;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The REST listener: a Netty HTTP/1.1 server whose pipeline per connection is timeouts, codec,
 * token check on the head ({@link EarlyAuth}), body limit and {@link RestHandler} (one request at a
 * time), within {@link RestLimits}. Started and closed by the thread
 * that owns the gateway; {@link #close} is idempotent and may also come from a shutdown hook.
 * It never blocks its event loops: every store call runs on its {@link StoreCalls} pool.
 */
public final class RestServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RestServer.class);

    /** Largest request body; larger ones get 413. */
    public static final int MAX_BODY_BYTES = 1 << 20;
    static final int EVENT_LOOP_THREADS = 2;
    static final int STORE_THREADS = 4;
    static final int STORE_QUEUE_LENGTH = 64;
    static final int MAX_INITIAL_LINE_BYTES = 4096;
    static final int MAX_HEADER_BYTES = 8192;
    static final int MAX_CHUNK_BYTES = 8192;
    /** How long close waits for requests in flight, then for the store pool. */
    static final long DRAIN_TIMEOUT_MS = 30_000;

    private final EventLoopGroup loops;
    private final Channel serverChannel;
    private final ChannelGroup connections;
    private final StoreCalls storeCalls;
    private final InFlight inFlight;
    private final InetSocketAddress address;
    private boolean closed; // guarded by this

    private RestServer(EventLoopGroup loops, Channel serverChannel, ChannelGroup connections, StoreCalls storeCalls,
            InFlight inFlight) {
        this.loops = loops;
        this.serverChannel = serverChannel;
        this.connections = connections;
        this.storeCalls = storeCalls;
        this.inFlight = inFlight;
        this.address = (InetSocketAddress) serverChannel.localAddress();
    }

    /**
     * Serves the standard API of {@code store} on {@code bindAddress} (port 0: any free port), with
     * a group barrier of its own and no NBD server: for tests and tools that serve a store alone.
     */
    public static RestServer start(InetSocketAddress bindAddress, BlockStore store, String token) {
        return start(bindAddress, RestApi.routes(store, GroupBarrier.open(store), volume -> 0), token);
    }

    /**
     * Binds {@code bindAddress} and serves {@code routes}, guarded ones with {@code token}.
     *
     * @throws RestBindException when the address cannot be bound
     */
    public static RestServer start(InetSocketAddress bindAddress, Routes routes, String token) {
        return start(bindAddress, routes, token, null);
    }

    /** As {@link #start(InetSocketAddress, Routes, String)}, over HTTPS when {@code tls} is not null. */
    public static RestServer start(InetSocketAddress bindAddress, Routes routes, String token, SslContext tls) {
        return start(bindAddress, routes, token, tls, Transport.best());
    }

    /** As {@link #start(InetSocketAddress, Routes, String, SslContext)}, on the transport the caller chose. */
    public static RestServer start(InetSocketAddress bindAddress, Routes routes, String token, SslContext tls,
            Transport transport) {
        return start(bindAddress, routes, ApiTokens.adminOnly(token), tls, transport);
    }

    /** As {@link #start(InetSocketAddress, Routes, String, SslContext, Transport)}, with a read token too. */
    public static RestServer start(InetSocketAddress bindAddress, Routes routes, ApiTokens tokens, SslContext tls,
            Transport transport) {
        return start(bindAddress, routes, tokens, tls, transport, RestLimits.defaults());
    }

    /** As {@link #start(InetSocketAddress, Routes, ApiTokens, SslContext, Transport)}, within {@code limits}. */
    public static RestServer start(InetSocketAddress bindAddress, Routes routes, ApiTokens tokens, SslContext tls,
            Transport transport, RestLimits limits) {
        if (bindAddress.isUnresolved()) {
            throw bindFailure(bindAddress, "unknown host " + bindAddress.getHostString(), null);
        }
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(EVENT_LOOP_THREADS,
                new DefaultThreadFactory("cgw-rest"), transport.ioHandlerFactory());
        StoreCalls storeCalls = new StoreCalls(STORE_THREADS, STORE_QUEUE_LENGTH);
        InFlight inFlight = new InFlight("REST API");
        ChannelGroup connections = new DefaultChannelGroup("cgw-rest-connections", GlobalEventExecutor.INSTANCE);
        BearerToken bearerToken = new BearerToken(tokens);
        RefusalLog refusals = new RefusalLog();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(loops)
                .channel(transport.serverChannelClass())
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        if (connections.size() >= limits.maxConnections()) {
                            long refused = refusals.refusedAndDue();
                            if (refused > 0) {
                                log.warn("refusing REST connection from {}: {} are open, the most allowed ({} refused"
                                        + " so far)", channel.remoteAddress(), limits.maxConnections(), refused);
                            }
                            channel.close();
                            return;
                        }
                        connections.add(channel);
                        if (tls != null) {
                            channel.pipeline().addLast("tls", tls.newHandler(channel.alloc()));
                        }
                        RestTimeouts timeouts = new RestTimeouts(limits);
                        channel.pipeline().addLast(timeouts,
                                new HttpServerCodec(MAX_INITIAL_LINE_BYTES, MAX_HEADER_BYTES, MAX_CHUNK_BYTES),
                                new EarlyAuth(routes, bearerToken),
                                new RequestBodyLimit(MAX_BODY_BYTES),
                                new RestHandler(routes, bearerToken, storeCalls, inFlight, timeouts));
                    }
                });
        try {
            Channel serverChannel = bootstrap.bind(bindAddress).syncUninterruptibly().channel();
            RestServer server = new RestServer(loops, serverChannel, connections, storeCalls, inFlight);
            log.info("REST listening on {} ({})", server.address, transport.name());
            return server;
        } catch (Exception e) { // Netty rethrows the checked BindException undeclared
            storeCalls.close(0);
            loops.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).syncUninterruptibly();
            throw bindFailure(bindAddress, e.getMessage() == null ? e.toString() : e.getMessage(), e);
        }
    }

    private static RestBindException bindFailure(InetSocketAddress address, String reason, Throwable cause) {
        return new RestBindException("cannot listen for REST on " + address.getHostString() + ":" + address.getPort()
                + ": " + reason, cause);
    }

    /** The address actually bound, with the real port when 0 was asked. */
    public InetSocketAddress address() {
        return address;
    }

    /**
     * Stops accepting connections, refuses new requests with 503, waits for the requests in
     * flight to be answered, then closes every connection and the event loops.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        serverChannel.close().syncUninterruptibly();
        try {
            if (!inFlight.drain(DRAIN_TIMEOUT_MS)) {
                log.warn("REST requests still in flight after {} ms; closing their connections", DRAIN_TIMEOUT_MS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.warn("interrupted while waiting for REST requests in flight; closing their connections");
        }
        storeCalls.close(DRAIN_TIMEOUT_MS);
        connections.close().awaitUninterruptibly();
        loops.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
        log.info("REST listener on {} closed", address);
    }
}
