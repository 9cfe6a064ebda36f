package cgw.nbd.transmission;

import io.netty.channel.Channel;
import java.util.EnumSet;
import org.jspecify.annotations.Nullable;

/**
 * Whether a connection takes in more requests, and why not: the one place that turns its
 * reading off and on, so that one reason clearing never resumes reading that another still
 * holds. Shut, the socket is not read and {@link RequestDecoder} leaves the bytes it already has
 * undecoded (a burst read in one go does not run past the bounds); opened again, the decoder goes
 * on with them.
 *
 * <p>Threads: the channel's event loop only; one per connection.
 */
final class ReadGate {
    /** Why a connection does not read. */
    enum Reason {
        /** As many requests or payload bytes in flight as one connection may have. */
        CREDITS,
        /** Replies wait to be sent: the client does not read them fast enough. */
        UNSENT_REPLIES,
        /** The server's memory budget cannot take this connection's next request now. */
        MEMORY,
        /** The client sent NBD_CMD_DISC: nothing after it is read. */
        DISCONNECT
    }

    private final Channel channel;
    private final EnumSet<Reason> shut = EnumSet.noneOf(Reason.class);
    private @Nullable Runnable onOpen;
    /** How many times the gate went from open to shut: a client cannot be blamed for bytes not read meanwhile. */
    private long closings;

    ReadGate(Channel channel) {
        this.channel = channel;
    }

    /** What runs when the gate opens: the decoder going on with the bytes it holds. */
    void onOpen(Runnable action) {
        onOpen = action;
    }

    boolean isOpen() {
        return shut.isEmpty();
    }

    long closings() {
        return closings;
    }

    boolean isShutFor(Reason reason) {
        return shut.contains(reason);
    }

    void shut(Reason reason) {
        if (shut.isEmpty()) {
            closings++;
        }
        shut.add(reason);
        channel.config().setAutoRead(false);
    }

    void open(Reason reason) {
        if (shut.remove(reason) && shut.isEmpty()) {
            channel.config().setAutoRead(true);
            Runnable action = onOpen;
            if (action != null) {
                action.run();
            }
        }
    }
}
