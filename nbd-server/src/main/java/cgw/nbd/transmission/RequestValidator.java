package cgw.nbd.transmission;

import cgw.nbd.export.ExportInfo;
import cgw.nbd.wire.Command;
import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.NbdError;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Validates each request once, at the edge of the transmission phase: a request the export may
 * not see is answered here with the error the NBD specification asks for, naming the field, and
 * goes no further; the connection lives on. Requests after {@code NBD_CMD_DISC} are dropped
 * unanswered, as the client asked.
 *
 * <p>Threads: the channel's event loop only; one instance per connection. Never calls the export
 * and never holds a payload: a refused request's payload is released here.
 */
final class RequestValidator extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(RequestValidator.class);

    private final ExportInfo info;
    private final boolean structured;
    /** Whether a meta context was negotiated: BLOCK_STATUS needs one. */
    private final boolean anyContext;
    private final int maxPayloadBytes;
    private boolean disconnecting;

    RequestValidator(ExportInfo info, boolean structured, boolean anyContext, int maxPayloadBytes) {
        this.info = info;
        this.structured = structured;
        this.anyContext = anyContext;
        this.maxPayloadBytes = maxPayloadBytes;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Request request = (Request) msg;
        if (disconnecting) {
            ReferenceCountUtil.release(request.payload());
            return;
        }
        Command command = Command.of(request.type());
        if (command == Command.DISC) {
            disconnecting = true;
            ctx.fireChannelRead(request);
            return;
        }
        Rejection rejection = validate(command, request);
        if (rejection != null) {
            ReferenceCountUtil.release(request.payload());
            log.debug("{}: rejected {} at {} +{}: {}", info.name(), command, request.offset(), request.length(),
                    rejection.message());
            ctx.write(Replies.error(ctx.alloc(), structured, request.cookie(), rejection.error(), rejection.message()));
            return;
        }
        ctx.fireChannelRead(request);
    }

    /** Why a request is refused: the error value and a message naming the field. */
    private record Rejection(NbdError error, String message) {
    }

    /** Why the request is refused, or null when it may proceed. */
    private @Nullable Rejection validate(Command command, Request r) {
        if (command == Command.UNKNOWN) {
            return new Rejection(NbdError.EINVAL, "unknown command type " + r.type());
        }
        int allowed = switch (command) {
            case READ -> Nbd.CMD_FLAG_FUA | (structured ? Nbd.CMD_FLAG_DF : 0);
            case WRITE_ZEROES -> Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO;
            case BLOCK_STATUS -> Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_REQ_ONE;
            default -> Nbd.CMD_FLAG_FUA;
        };
        if ((r.flags() & ~allowed) != 0) {
            return new Rejection(NbdError.EINVAL,
                    String.format("flags 0x%x not valid for %s", r.flags() & ~allowed, command));
        }
        if (command.changesExport() && info.readOnly()) {
            return new Rejection(NbdError.EPERM, "export " + info.name() + " is read-only");
        }
        if (command == Command.FLUSH) {
            return r.offset() != 0 || r.length() != 0
                    ? new Rejection(NbdError.EINVAL, "flush offset and length must be 0")
                    : null;
        }
        if (r.oversized() || command == Command.READ && r.length() > maxPayloadBytes) {
            return new Rejection(NbdError.EINVAL, command + " of " + r.length()
                    + " bytes exceeds the maximum payload of " + maxPayloadBytes);
        }
        long size = info.sizeBytes();
        if (Long.compareUnsigned(r.offset(), size) > 0 || r.length() > size - r.offset()) {
            NbdError error = command.writesData() ? NbdError.ENOSPC : NbdError.EINVAL;
            return new Rejection(error, "range offset " + Long.toUnsignedString(r.offset()) + " length " + r.length()
                    + " is past the end of the export (" + size + " bytes)");
        }
        if (command == Command.BLOCK_STATUS && !anyContext) {
            return new Rejection(NbdError.EINVAL, "block status without a negotiated meta context");
        }
        if (command == Command.BLOCK_STATUS && r.length() == 0) {
            return new Rejection(NbdError.EINVAL, "block status of length 0");
        }
        return null;
    }
}
