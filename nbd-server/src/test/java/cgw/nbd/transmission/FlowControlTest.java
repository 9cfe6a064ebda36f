package cgw.nbd.transmission;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.host.InFlight;
import cgw.nbd.wire.Command;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link FlowControl} alone on an embedded channel: the dispatcher's part is played by the test. */
class FlowControlTest {
    private static final int MAX_REQUESTS = 4;
    private static final long MAX_BYTES = 1 << 20;
    private static final long STALL_MS = 30_000;

    private final InFlight serverInFlight = new InFlight("test");
    private final EmbeddedChannel channel = new EmbeddedChannel();
    private final ReadGate gate = new ReadGate(channel);
    private final MemoryBudget budget = new MemoryBudget(1L << 30);
    private final FlowControl flow = new FlowControl("disk", MAX_REQUESTS, MAX_BYTES, serverInFlight, gate,
            new ConnectionMemory(budget, gate), STALL_MS);

    {
        channel.pipeline().addLast(flow);
    }
    private final List<Request> passed = new ArrayList<>();

    @AfterEach
    void close() {
        channel.finishAndReleaseAll();
    }

    private void send(Request... requests) {
        channel.writeInbound((Object[]) requests);
        for (Object message; (message = channel.readInbound()) != null;) {
            passed.add((Request) message);
        }
    }

    private static Request flush(long cookie) {
        return new Request(0, Command.FLUSH.code, cookie, 0, 0, null, false);
    }

    private static Request read(long cookie, long length) {
        return new Request(0, Command.READ.code, cookie, 0, length, null, false);
    }

    @Test
    void readingPausesAtTheRequestBoundAndResumesAtHalf() {
        send(flush(1), flush(2), flush(3));
        assertThat(channel.config().isAutoRead()).isTrue();
        send(flush(4));
        assertThat(channel.config().isAutoRead()).as("paused at %d in flight", MAX_REQUESTS).isFalse();
        assertThat(passed).hasSize(4);
        assertThat(serverInFlight.count()).isEqualTo(4);

        flow.returnCredit(passed.get(0), channel.newSucceededFuture());
        assertThat(channel.config().isAutoRead()).as("still 3 in flight").isFalse();
        flow.returnCredit(passed.get(1), channel.newSucceededFuture());
        assertThat(channel.config().isAutoRead()).as("resumed at half").isTrue();
        assertThat(serverInFlight.count()).isEqualTo(2);
    }

    @Test
    void readingPausesAtTheByteBound() {
        send(read(1, MAX_BYTES / 2), flush(2));
        assertThat(channel.config().isAutoRead()).isTrue();
        send(read(3, MAX_BYTES / 2));
        assertThat(channel.config().isAutoRead()).as("a MiB of reads in flight").isFalse();

        flow.returnCredit(passed.get(2), channel.newSucceededFuture());
        assertThat(channel.config().isAutoRead()).isTrue();
    }

    /** A reply the client has not read yet still holds its buffer: the budget counts it until it is sent. */
    @Test
    void aReadsBytesLeaveTheMemoryBudgetOnlyOnceItsReplyIsSent() {
        send(read(1, 4096), flush(2));
        assertThat(budget.usedBytes()).isEqualTo(4096);
        ChannelPromise replySent = channel.newPromise();

        flow.returnCredit(passed.get(0), replySent);
        flow.returnCredit(passed.get(1), channel.newSucceededFuture());

        assertThat(serverInFlight.count()).as("credits come back at once").isZero();
        assertThat(budget.usedBytes()).as("the reply is queued, not sent").isEqualTo(4096);
        replySent.setSuccess();
        assertThat(budget.usedBytes()).isZero();
    }

    /** A read is admitted to the budget before its reply buffer exists; one refused waits, in order, with reading shut. */
    @Test
    void aReadTheBudgetRefusesWaitsAndGoesOnInOrderOnceMemoryIsReleased() {
        long taken = (1L << 30) / 4 * 3;
        assertThat(budget.tryReserve(taken, 0, false)).isTrue();
        send(read(1, 4096));
        assertThat(passed).as("parked: the budget's last quarter is for connections making progress").isEmpty();
        assertThat(channel.config().isAutoRead()).isFalse();

        budget.release(taken);
        channel.runPendingTasks();
        send(); // takes what the admitted read passed on
        assertThat(passed).extracting(Request::cookie).containsExactly(1L);
        assertThat(channel.config().isAutoRead()).isTrue();
        assertThat(budget.usedBytes()).isEqualTo(4096);
        send(flush(2));
        assertThat(passed).extracting(Request::cookie).containsExactly(1L, 2L);
    }

    @Test
    void discClosesTheConnectionOnceTheLastReplyIsOut() {
        send(flush(1), flush(2), new Request(0, Command.DISC.code, 3, 0, 0, null, false));
        assertThat(passed).extracting(Request::cookie).containsExactly(1L, 2L);
        assertThat(channel.config().isAutoRead()).isFalse();

        flow.returnCredit(passed.get(0), channel.newSucceededFuture());
        channel.runPendingTasks();
        assertThat(channel.isOpen()).isTrue();
        flow.returnCredit(passed.get(1), channel.newSucceededFuture());
        channel.runPendingTasks();
        assertThat(channel.isOpen()).isFalse();
        assertThat(channel.config().isAutoRead()).as("no reading after DISC").isFalse();
        assertThat(flow.idle()).isTrue();
    }

    @Test
    void aClientThatStopsReadingItsRepliesStopsBeingReadThenIsClosed() {
        channel.freezeTime();
        send(flush(1));
        channel.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
        channel.runPendingTasks(); // the change is announced on the event loop
        assertThat(channel.config().isAutoRead()).as("replies pile up: stop reading").isFalse();
        flow.returnCredit(passed.get(0), channel.newSucceededFuture());
        assertThat(channel.config().isAutoRead()).as("credits back, replies still unread").isFalse();

        channel.advanceTimeBy(STALL_MS - 1, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(channel.isOpen()).isTrue();
        channel.advanceTimeBy(2, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(channel.isOpen()).as("nothing read for the stall timeout").isFalse();
    }

    @Test
    void aClientThatReadsAgainIsReadAgain() {
        channel.freezeTime();
        channel.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
        channel.runPendingTasks(); // the change is announced on the event loop
        assertThat(channel.config().isAutoRead()).isFalse();
        channel.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        channel.runPendingTasks(); // the change is announced on the event loop
        assertThat(channel.config().isAutoRead()).isTrue();
        channel.advanceTimeBy(2 * STALL_MS, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(channel.isOpen()).isTrue();
    }
}
