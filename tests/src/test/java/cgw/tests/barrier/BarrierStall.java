package cgw.tests.barrier;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jdi.Bootstrap;
import com.sun.jdi.Method;
import com.sun.jdi.ReferenceType;
import com.sun.jdi.VMDisconnectedException;
import com.sun.jdi.VirtualMachine;
import com.sun.jdi.connect.Connector;
import com.sun.jdi.connect.IllegalConnectorArgumentsException;
import com.sun.jdi.connect.ListeningConnector;
import com.sun.jdi.event.BreakpointEvent;
import com.sun.jdi.event.Event;
import com.sun.jdi.event.EventSet;
import com.sun.jdi.event.VMDisconnectEvent;
import com.sun.jdi.request.BreakpointRequest;
import com.sun.jdi.request.EventRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A member stalled mid-barrier, in a gateway child process: a debugger (JDI) attached to the
 * child stops the thread that runs one step of the k-th barrier, and leaves it stopped, so a kill
 * lands at that step every time instead of when a timer happens to fire. Nothing in the gateway
 * knows; its code runs unchanged.
 *
 * <p>Use: {@link #listen()}, start the child with {@link #jvmOption()}, then {@link #attach()}
 * once it printed its listening lines, {@link #stopAt}, then wait for {@link #stopped}. Driven from the
 * test thread; one daemon thread reads the debugger's events.
 */
final class BarrierStall implements AutoCloseable {
    /** Steps between the cut (a pending snapshot record is durable) and the commit, where a barrier can stall. */
    enum Step {
        /** The cut is durable; the gates have not switched (the barrier thread stops). */
        CUT("cgw.barrier.GroupBarrier", "switchAndRelease", 1),
        /** Every gate switched and holds the replies of the new epoch; the coordinator stops before releasing them. */
        HOLDING("cgw.barrier.EpochGate", "detach", 2),
        /** The holds are released; the barrier waits for the old epoch's writes before the commit (the barrier thread stops). */
        DRAINING("cgw.barrier.GroupBarrier", "awaitDrained", 1);

        final String className;
        final String methodName;
        /** How often one barrier of the test's two-volume group enters the method. */
        final int entriesPerBarrier;

        Step(String className, String methodName, int entriesPerBarrier) {
            this.className = className;
            this.methodName = methodName;
            this.entriesPerBarrier = entriesPerBarrier;
        }
    }

    private static final Duration ATTACH_TIMEOUT = Duration.ofSeconds(60);

    private final ListeningConnector connector;
    private final Map<String, Connector.Argument> arguments;
    private final String address;
    private final CompletableFuture<VirtualMachine> accepted;
    private final CompletableFuture<String> stopped = new CompletableFuture<>();
    private VirtualMachine vm;

    private BarrierStall(ListeningConnector connector, Map<String, Connector.Argument> arguments, String address) {
        this.connector = connector;
        this.arguments = arguments;
        this.address = address;
        // the child connects while its JVM starts, before it prints anything: accept meanwhile
        this.accepted = CompletableFuture.supplyAsync(() -> {
            try {
                return connector.accept(arguments);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (IllegalConnectorArgumentsException e) {
                throw new IllegalStateException(e);
            }
        }, BarrierStall::daemon);
    }

    /** Listens for one debuggee on a free loopback port. */
    static BarrierStall listen() throws IOException, IllegalConnectorArgumentsException {
        ListeningConnector connector = Bootstrap.virtualMachineManager().listeningConnectors().stream()
                .filter(c -> c.transport().name().equals("dt_socket")).findFirst()
                .orElseThrow(() -> new IllegalStateException("this JDK has no socket debugger transport"));
        Map<String, Connector.Argument> arguments = connector.defaultArguments();
        arguments.get("localAddress").setValue("127.0.0.1");
        arguments.get("port").setValue("0");
        arguments.get("timeout").setValue(Long.toString(ATTACH_TIMEOUT.toMillis()));
        String address = connector.startListening(arguments);
        return new BarrierStall(connector, arguments, address);
    }

    /** The child's JVM option that makes it connect to this debugger as it starts, and run on. */
    String jvmOption() {
        return "-agentlib:jdwp=transport=dt_socket,server=n,suspend=n,address=" + address;
    }

    /** Takes the child's connection; call once the child has started (its barrier classes are loaded). */
    void attach() throws Exception {
        vm = accepted.get(ATTACH_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        connector.stopListening(arguments);
        Thread events = new Thread(this::readEvents, "barrier-stall-events");
        events.setDaemon(true);
        events.start();
    }

    /** Stops the thread that enters {@code step} of the {@code barrier}-th barrier (from 1) from now on. */
    void stopAt(Step step, int barrier) {
        List<ReferenceType> classes = vm.classesByName(step.className);
        assertThat(classes).as("%s loaded in the gateway", step.className).hasSize(1);
        List<Method> methods = classes.get(0).methodsByName(step.methodName);
        assertThat(methods).as("one method %s.%s to stop in (renamed? update BarrierStall.Step)", step.className,
                step.methodName).hasSize(1);
        BreakpointRequest request = vm.eventRequestManager().createBreakpointRequest(methods.get(0).location());
        request.setSuspendPolicy(EventRequest.SUSPEND_EVENT_THREAD);
        request.addCountFilter((barrier - 1) * step.entriesPerBarrier + 1);
        request.enable();
    }

    /** Completes with the name of the thread once one stopped at the step. */
    CompletableFuture<String> stopped() {
        return stopped;
    }

    private static void daemon(Runnable task) {
        Thread thread = new Thread(task, "barrier-stall-accept");
        thread.setDaemon(true);
        thread.start();
    }

    private void readEvents() {
        try {
            while (true) {
                EventSet events = vm.eventQueue().remove();
                boolean stall = false;
                for (Event event : events) {
                    if (event instanceof BreakpointEvent hit) {
                        stall = true;
                        stopped.complete(hit.thread().name());
                    } else if (event instanceof VMDisconnectEvent) {
                        stopped.completeExceptionally(new AssertionError("the gateway went away before the stall"));
                        return;
                    }
                }
                if (!stall) {
                    events.resume();
                }
            }
        } catch (InterruptedException | VMDisconnectedException e) {
            stopped.completeExceptionally(new AssertionError("the debugger lost the gateway before the stall", e));
        }
    }

    @Override
    public void close() {
        accepted.cancel(true);
        try {
            connector.stopListening(arguments);
        } catch (IOException | IllegalConnectorArgumentsException | IllegalArgumentException e) {
            // not listening any more: attach stopped it
        }
        if (vm != null) {
            try {
                vm.dispose();
            } catch (VMDisconnectedException e) {
                // the gateway was killed: nothing to let go of
            }
        }
    }
}
