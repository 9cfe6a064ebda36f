package cgw.replication;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Flow;
import org.junit.jupiter.api.Test;

/** The body publisher hands out the array's bytes in order, as demanded, exactly once each. */
class WrappedBodyTest {
    /** Asks for one slice at a time, from inside onNext as HTTP clients do. */
    private static class Collector implements Flow.Subscriber<ByteBuffer> {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final List<Integer> sizes = new ArrayList<>();
        Flow.Subscription subscription;
        boolean complete;

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            this.subscription = subscription;
            subscription.request(1);
        }

        @Override
        public void onNext(ByteBuffer item) {
            assertThat(item.isReadOnly()).isTrue();
            sizes.add(item.remaining());
            byte[] chunk = new byte[item.remaining()];
            item.get(chunk);
            bytes.writeBytes(chunk);
            subscription.request(1);
        }

        @Override
        public void onError(Throwable throwable) {
            throw new AssertionError(throwable);
        }

        @Override
        public void onComplete() {
            complete = true;
        }
    }

    @Test
    void emitsTheWholeArrayInSlicesAndCompletesOnce() {
        byte[] body = new byte[3 * WrappedBody.SLICE_BYTES + 100];
        new Random(7).nextBytes(body);
        WrappedBody publisher = new WrappedBody(body, body.length);
        assertThat(publisher.contentLength()).isEqualTo(body.length);
        for (int round = 0; round < 2; round++) { // each subscription starts over
            Collector collector = new Collector();
            publisher.subscribe(collector);
            assertThat(collector.complete).isTrue();
            assertThat(collector.bytes.toByteArray()).isEqualTo(body);
            assertThat(collector.sizes).containsExactly(WrappedBody.SLICE_BYTES, WrappedBody.SLICE_BYTES,
                    WrappedBody.SLICE_BYTES, 100);
        }
    }

    @Test
    void anEmptyBodyCompletesAtOnceAndLargeDemandIsFine() {
        Collector collector = new Collector() {
            @Override
            public void onSubscribe(Flow.Subscription subscription) {
                this.subscription = subscription;
                subscription.request(Long.MAX_VALUE);
                subscription.request(Long.MAX_VALUE);
            }
        };
        new WrappedBody(new byte[0], 0).subscribe(collector);
        assertThat(collector.complete).isTrue();
        assertThat(collector.sizes).isEmpty();
    }

    @Test
    void onlyTheFirstLengthBytesOfTheArrayGo() {
        byte[] array = new byte[WrappedBody.SLICE_BYTES + 500];
        new Random(9).nextBytes(array);
        WrappedBody publisher = new WrappedBody(array, WrappedBody.SLICE_BYTES + 10);
        assertThat(publisher.contentLength()).isEqualTo(WrappedBody.SLICE_BYTES + 10);
        Collector collector = new Collector();
        publisher.subscribe(collector);
        assertThat(collector.bytes.toByteArray())
                .isEqualTo(java.util.Arrays.copyOf(array, WrappedBody.SLICE_BYTES + 10));
        assertThat(collector.sizes).containsExactly(WrappedBody.SLICE_BYTES, 10);
    }
}
