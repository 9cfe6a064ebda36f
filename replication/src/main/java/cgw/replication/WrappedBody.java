package cgw.replication;

import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A request body that hands the HTTP client read-only views of the first {@code length} bytes of
 * an array the caller does not change until the call is answered, where
 * {@code BodyPublishers.ofByteArray} copies the whole array into fresh 16 KiB buffers first: a
 * megabyte of garbage per block body shipped. Emits slices of
 * {@link #SLICE_BYTES} as the subscriber asks for them; each subscription starts from the start.
 */
final class WrappedBody implements HttpRequest.BodyPublisher {
    static final int SLICE_BYTES = 64 << 10;

    private final byte[] body;
    private final int length;

    WrappedBody(byte[] body, int length) {
        if (length < 0 || length > body.length) {
            throw new IllegalArgumentException("length " + length + " of an array of " + body.length);
        }
        this.body = body;
        this.length = length;
    }

    @Override
    public long contentLength() {
        return length;
    }

    @Override
    public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
        subscriber.onSubscribe(new Slices(subscriber));
    }

    /** One subscriber's progress through the body. */
    private final class Slices implements Flow.Subscription {
        private final Flow.Subscriber<? super ByteBuffer> subscriber;
        private final AtomicLong demand = new AtomicLong();
        /** Set while a thread emits: a request() from inside onNext only adds demand. */
        private final AtomicBoolean emitting = new AtomicBoolean();
        private volatile boolean cancelled;
        private int position;
        private boolean completed;

        Slices(Flow.Subscriber<? super ByteBuffer> subscriber) {
            this.subscriber = subscriber;
        }

        @Override
        public void request(long n) {
            if (n <= 0) {
                cancelled = true;
                subscriber.onError(new IllegalArgumentException("request(" + n + "): demand must be positive"));
                return;
            }
            demand.getAndAccumulate(n, (current, more) -> current + more < 0 ? Long.MAX_VALUE : current + more);
            emit();
        }

        private void emit() {
            // whoever holds the flag emits until the demand or the body runs out; a request() that
            // arrives meanwhile is seen by the re-check after the flag is dropped
            while (emitting.compareAndSet(false, true)) {
                try {
                    while (!cancelled && !completed && demand.get() > 0) {
                        if (position == length) {
                            completed = true;
                            subscriber.onComplete();
                            break;
                        }
                        int sliced = Math.min(SLICE_BYTES, length - position);
                        ByteBuffer slice = ByteBuffer.wrap(body, position, sliced).slice().asReadOnlyBuffer();
                        position += sliced;
                        demand.decrementAndGet();
                        subscriber.onNext(slice);
                    }
                } finally {
                    emitting.set(false);
                }
                if (cancelled || completed || demand.get() == 0) {
                    return;
                }
            }
        }

        @Override
        public void cancel() {
            cancelled = true;
        }
    }
}
