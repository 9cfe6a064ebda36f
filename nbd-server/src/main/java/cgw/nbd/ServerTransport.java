package cgw.nbd;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;

/**
 * The Netty transport the NBD listeners run on. The caller chooses it, once for every listener
 * of the process; this module never looks at what the machine offers. Immutable.
 */
public interface ServerTransport {
    /** Makes the I/O handler of each of the listeners' event loops. */
    IoHandlerFactory ioHandlerFactory();

    /** The TCP listener's channel class; it runs on the loops {@link #ioHandlerFactory} makes. */
    Class<? extends ServerChannel> serverChannelClass();

    /** The Unix-socket listener's channel class, or null when this transport has none. */
    Class<? extends ServerChannel> domainServerChannelClass();
}
