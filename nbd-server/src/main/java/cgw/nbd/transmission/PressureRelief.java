package cgw.nbd.transmission;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.util.concurrent.EventExecutor;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frees the memory budget from clients that hold it without using it while others wait: every
 * {@link #INTERVAL_MS} while a connection waits for memory, each connection that holds some and
 * made no progress since the last look (a payload that stopped arriving, replies it does not read)
 * is closed, which releases what it holds. Without waiters nothing is cut short and the stall
 * timeouts apply: a hostile crowd could otherwise keep a bystander waiting for all of them.
 *
 * <p>Threads: any; each connection's probe is read and closed on its own event loop.
 */
final class PressureRelief {
    static final long INTERVAL_MS = 500;
    private static final Logger log = LoggerFactory.getLogger(PressureRelief.class);

    private final MemoryBudget budget;
    private final Set<Probe> connections = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean looking = new AtomicBoolean();

    PressureRelief(MemoryBudget budget) {
        this.budget = budget;
    }

    /** Watches a connection until its channel closes. */
    void watch(Channel channel, RequestDecoder decoder, ConnectionMemory memory) {
        Probe probe = new Probe(channel, decoder, memory);
        connections.add(probe);
        channel.closeFuture().addListener(closed -> connections.remove(probe));
    }

    /** A connection started waiting for memory: looks at the holders in {@link #INTERVAL_MS}, then again while anyone waits. */
    void waiting(EventExecutor executor) {
        if (looking.compareAndSet(false, true)) {
            connections.forEach(probe -> probe.channel.eventLoop().execute(probe::mark));
            executor.schedule(() -> look(executor), INTERVAL_MS, TimeUnit.MILLISECONDS);
        }
    }

    private void look(EventExecutor executor) {
        if (!budget.hasWaiters()) {
            looking.set(false);
            return;
        }
        connections.forEach(probe -> probe.channel.eventLoop().execute(probe::closeIfStalled));
        executor.schedule(() -> look(executor), INTERVAL_MS, TimeUnit.MILLISECONDS);
    }

    /** One connection's progress between two looks. Its event loop only. */
    private static final class Probe {
        final Channel channel;
        final RequestDecoder decoder;
        final ConnectionMemory memory;
        long payloadBytes;
        long releasedBytes;
        long gateClosings;
        boolean marked;

        Probe(Channel channel, RequestDecoder decoder, ConnectionMemory memory) {
            this.channel = channel;
            this.decoder = decoder;
            this.memory = memory;
        }

        void mark() {
            payloadBytes = decoder.payloadBytesReceived();
            releasedBytes = memory.releasedBytes();
            gateClosings = memory.gate().closings();
            marked = true;
        }

        void closeIfStalled() {
            if (marked && memory.heldBytes() > 0 && channel.isOpen()) {
                // the gate open all the while: the bytes not read were the client's to send
                boolean payloadStopped = decoder.awaitsPayload() && decoder.payloadBytesReceived() == payloadBytes
                        && memory.gate().isOpen() && memory.gate().closings() == gateClosings;
                boolean repliesUnread = unsent() > 0 && memory.releasedBytes() == releasedBytes;
                if (payloadStopped || repliesUnread) {
                    log.info("closing the NBD connection from {}: it holds {} bytes of the memory others wait for"
                            + " and {} for {} ms", channel.remoteAddress(), memory.heldBytes(),
                            payloadStopped ? "sent no byte of its payload" : "read none of its replies", INTERVAL_MS);
                    channel.close();
                    return;
                }
            }
            mark();
        }

        private long unsent() {
            ChannelOutboundBuffer buffer = channel.unsafe().outboundBuffer();
            return buffer == null ? 0 : buffer.totalPendingWriteBytes();
        }
    }
}
