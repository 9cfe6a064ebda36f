package cgw.nbd;

import cgw.host.InFlight;
import cgw.host.RefusalLog;
import cgw.nbd.export.ExportRegistry;
import cgw.nbd.handshake.HandshakePipeline;
import cgw.nbd.transmission.MemoryBudget;
import cgw.nbd.transmission.MetaContexts;
import cgw.nbd.transmission.PayloadReceiver;
import cgw.nbd.transmission.TransmissionPipeline;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NBD listeners: TCP and, optionally, a Unix socket. Each connection gets its own pipeline:
 * [tls] → {@link HandshakePipeline}, replaced after {@code GO} by the {@link TransmissionPipeline}. Nothing here
 * calls the store; exports do, on their own threads.
 *
 * <p>Threads: start and close from one thread; Netty's loops run the connections. Close stops
 * accepting, lets requests in flight finish (bounded by a grace period), then closes.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NbdServer.class);
    private static final long CLOSE_GRACE_MS = 10_000;
    /** The Unix socket: the gateway's user and group, nobody else. */
    private static final Set<PosixFilePermission> SOCKET_MODE = PosixFilePermissions.fromString("rw-rw----");
    /** Chunks of {@code pageSize << CHUNK_ORDER} bytes: 16 MiB with Netty's 8 KiB pages. */
    private static final int CHUNK_ORDER = 11;
    /**
     * Every buffer starts on a cache line: Netty's pooled chunks come from malloc, off a cache
     * line, and the kernel copies a write's payload in from the socket and out to the page cache
     * faster when it is aligned. A read reply's data stays just after its header: aligning that
     * too gained nothing.
     */
    static final int BUFFER_ALIGNMENT = 64;
    /**
     * Buffers of NBD connections come from Netty's pooled allocator: request payloads and read
     * replies are up to 32 MiB, and Netty's default (adaptive) allocator serves anything over its
     * largest size class from fresh, zero-filled direct memory freed by a Cleaner; the pooled
     * allocator keeps buffers up to its chunk size in its arenas. Its chunks are 16 MiB here
     * instead of Netty's 4 MiB: a chunk is freed when its last buffer is, and with payloads of a
     * MiB or so small chunks would empty and be allocated again (zero-filled) all the time.
     */
    private static final ByteBufAllocator BUFFERS = new PooledByteBufAllocator(true,
            0, PooledByteBufAllocator.defaultNumDirectArena(), PooledByteBufAllocator.defaultPageSize(),
            CHUNK_ORDER, PooledByteBufAllocator.defaultSmallCacheSize(),
            PooledByteBufAllocator.defaultNormalCacheSize(),
            PooledByteBufAllocator.defaultUseCacheForAllThreads(), BUFFER_ALIGNMENT);

    private final NbdServerConfig config;
    private final ExportRegistry exports;
    private final ServerTransport transport;
    private final EventLoopGroup group;
    private final ChannelGroup channels = new DefaultChannelGroup("nbd", GlobalEventExecutor.INSTANCE);
    private final InFlight inFlight = new InFlight("NBD server");
    private final MemoryBudget memory;
    private final RefusalLog refusals = new RefusalLog();
    /** Connections admitted and not yet closed, for the cap. */
    private final AtomicInteger open = new AtomicInteger();
    private @Nullable Channel tcpChannel;
    private @Nullable Channel unixChannel;
    private boolean closed;

    private NbdServer(NbdServerConfig config, ExportRegistry exports, ServerTransport transport) {
        this.config = config;
        this.exports = exports;
        this.transport = transport;
        this.memory = new MemoryBudget(config.memoryBudgetBytes());
        this.group = new MultiThreadIoEventLoopGroup(config.ioThreads(), transport.ioHandlerFactory());
    }

    /** Binds every configured listener on {@code transport}; on failure nothing stays bound. */
    public static NbdServer start(NbdServerConfig config, ExportRegistry exports, ServerTransport transport) {
        NbdServer server = new NbdServer(config, exports, transport);
        try {
            server.bind();
            return server;
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    private void bind() {
        if (config.tcp() != null) {
            ServerBootstrap tcp = new ServerBootstrap().group(group)
                    .channel(transport.serverChannelClass())
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.SO_KEEPALIVE, true)
                    .childOption(ChannelOption.ALLOCATOR, BUFFERS)
                    .childHandler(initializer());
            tcpChannel = bindOrThrow(tcp, config.tcp(),
                    "nbd://" + config.tcp().getHostString() + ":" + config.tcp().getPort());
            channels.add(tcpChannel);
        }
        if (config.unixSocket() != null) {
            if (transport.domainServerChannelClass() == null) {
                throw new IllegalStateException(
                        "NBD over a Unix socket needs Linux epoll: " + Epoll.unavailabilityCause());
            }
            removeStaleSocket(config.unixSocket());
            ServerBootstrap unix = new ServerBootstrap().group(group)
                    .channel(transport.domainServerChannelClass())
                    .childOption(ChannelOption.ALLOCATOR, BUFFERS)
                    .childHandler(initializer());
            unixChannel = bindOrThrow(unix, new DomainSocketAddress(config.unixSocket().toFile()),
                    "unix socket " + config.unixSocket());
            channels.add(unixChannel);
            try {
                // owner and group (qemu's user joins the gateway's group), nobody else
                Files.setPosixFilePermissions(config.unixSocket(), SOCKET_MODE);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot set the mode of " + config.unixSocket(), e);
            }
        }
    }

    /** Removes the socket a previous run left; anything else at that path is not ours to delete. */
    private static void removeStaleSocket(Path socket) {
        try {
            BasicFileAttributes existing = Files.readAttributes(socket, BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            if (!existing.isOther()) {
                throw new IllegalStateException(
                        "cannot serve NBD on " + socket + ": a file that is not a socket is there");
            }
            Files.delete(socket);
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot replace " + socket, e);
        }
    }

    private static Channel bindOrThrow(ServerBootstrap bootstrap, java.net.SocketAddress address, String what) {
        try {
            return bootstrap.bind(address).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while binding " + what, e);
        } catch (Exception e) {
            throw new IllegalStateException("cannot listen for NBD on " + what + ": " + e.getMessage(), e);
        }
    }

    private ChannelInitializer<Channel> initializer() {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel channel) {
                // counted atomically: channels are set up on several event loops at once
                if (open.incrementAndGet() > config.maxConnections()) {
                    open.decrementAndGet();
                    refuse(channel);
                    return;
                }
                channel.closeFuture().addListener(closed -> open.decrementAndGet());
                channels.add(channel);
                channel.config().setRecvByteBufAllocator(new PayloadReceiver());
                // replies a client does not read pile up to here, then FlowControl stops reading
                channel.config().setWriteBufferWaterMark(new WriteBufferWaterMark(
                        (int) Math.min(config.maxInFlightBytes() / 4, Integer.MAX_VALUE),
                        (int) Math.min(config.maxInFlightBytes() / 2, Integer.MAX_VALUE)));
                ChannelPipeline pipeline = channel.pipeline();
                pipeline.addLast("handshake-timeout", new HandshakeDeadline(config.handshakeTimeoutMs()));
                HandshakePipeline.install(pipeline, exports, config.policy(), config.tls(), config.maxPayloadBytes(),
                        NbdServer.this::startTransmission);
            }
        };
    }

    /** Closes a connection past the cap at once; logs at most once a second how many were refused. */
    private void refuse(Channel channel) {
        long refused = refusals.refusedAndDue();
        if (refused > 0) {
            log.warn("refusing NBD connection from {}: {} connections are open, the most allowed ({} refused so far)",
                    channel.remoteAddress(), config.maxConnections(), refused);
        }
        channel.close();
    }

    private void startTransmission(ChannelPipeline pipeline, String after, cgw.nbd.export.Export export,
            boolean structured, MetaContexts contexts) {
        pipeline.remove("handshake-timeout");
        TransmissionPipeline.install(pipeline, after, export, structured, contexts,
                config.maxPayloadBytes(), config.maxInFlightRequests(), config.maxInFlightBytes(), inFlight,
                memory, config.stallTimeoutMs());
    }

    /** The bound TCP address (the real port when 0 was asked), or null without TCP. */
    public @Nullable InetSocketAddress tcpAddress() {
        return tcpChannel == null ? null : (InetSocketAddress) tcpChannel.localAddress();
    }

    /** Connections open now, listeners excluded. */
    public int connectionCount() {
        return open.get();
    }

    /**
     * Stops accepting, waits up to a grace period for connections to finish their requests and
     * close, then closes them and the event loops. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (tcpChannel != null) {
            tcpChannel.close().syncUninterruptibly();
        }
        if (unixChannel != null) {
            unixChannel.close().syncUninterruptibly();
            try {
                Files.deleteIfExists(config.unixSocket());
            } catch (IOException e) {
                log.warn("cannot remove NBD socket {}", config.unixSocket(), e);
            }
        }
        // stop reading new requests; those in flight complete and are answered
        channels.forEach(c -> c.config().setAutoRead(false));
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLOSE_GRACE_MS);
        boolean drained = false;
        try {
            drained = inFlight.drain(CLOSE_GRACE_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!drained) {
            log.warn("closing NBD connections with {} requests still in flight", inFlight.count());
        }
        channels.close().awaitUninterruptibly(CLOSE_GRACE_MS);
        group.shutdownGracefully(0, Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())),
                TimeUnit.MILLISECONDS).syncUninterruptibly();
        log.info("NBD server stopped");
    }
}
