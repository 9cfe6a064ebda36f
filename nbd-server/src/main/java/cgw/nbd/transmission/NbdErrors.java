package cgw.nbd.transmission;

import cgw.nbd.export.ReadOnlyExportException;
import cgw.nbd.wire.NbdError;
import cgw.store.InvalidRequestException;
import cgw.store.OutOfRangeException;
import cgw.store.StoreFullException;
import java.util.concurrent.CompletionException;

/** The one place where a failure becomes an NBD error value. */
final class NbdErrors {
    private NbdErrors() {
    }

    static Throwable unwrap(Throwable failure) {
        Throwable cause = failure;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    /** {@code writing}: the request writes data, so a range past the end is ENOSPC. */
    static NbdError of(Throwable failure, boolean writing) {
        Throwable cause = unwrap(failure);
        if (cause instanceof ReadOnlyExportException) {
            return NbdError.EPERM;
        }
        if (cause instanceof OutOfRangeException) {
            return writing ? NbdError.ENOSPC : NbdError.EINVAL;
        }
        if (cause instanceof InvalidRequestException) {
            return NbdError.EINVAL;
        }
        if (cause instanceof StoreFullException) {
            return NbdError.ENOSPC;
        }
        return NbdError.EIO;
    }
}
