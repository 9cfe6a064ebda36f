package cgw.tools;

import cgw.nbd.export.IoGate;
import cgw.nbd.export.ReadOnlyExportException;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongFunction;
import java.util.function.Predicate;

/**
 * A volume's epoch gate that refuses mutations with EPERM while replication says the volume is not
 * writable (its group was demoted, or this gateway is its replica). The check runs once the gate
 * admitted the mutation and tagged its epoch: a demote turns the volume read-only before its final
 * cut, so a write either lands in the epoch that cut seals or is refused, never acknowledged after.
 */
final class WritableGate implements IoGate {
    private final IoGate gate;
    private final String volume;
    private final Predicate<String> writable;

    WritableGate(IoGate gate, String volume, Predicate<String> writable) {
        this.gate = gate;
        this.volume = volume;
        this.writable = writable;
    }

    @Override
    public <T> CompletableFuture<T> submit(boolean mutation, LongFunction<CompletableFuture<T>> op) {
        if (!mutation) {
            return gate.submit(false, op);
        }
        return gate.submit(true, epoch -> writable.test(volume)
                ? op.apply(epoch)
                : CompletableFuture.failedFuture(new ReadOnlyExportException(
                        volume + " is read-only: its group is a replica here or was demoted")));
    }
}
