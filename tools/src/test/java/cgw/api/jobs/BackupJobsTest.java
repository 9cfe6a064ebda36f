package cgw.api.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import cgw.backup.BackupCancelledException;
import cgw.backup.JobOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The job runner's states, queueing, cancellation, pacing share and shutdown, with work that blocks on latches. */
@Timeout(30)
class BackupJobsTest {
    private static final Job.Request EXPORT = new Job.Request(Job.Kind.EXPORT, "file:///tmp/r", 7, null, null);

    /** Work that reports progress, then waits until released or cancelled, as an export does between chunks. */
    private static final class Blocking implements BackupJobs.Work {
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        volatile JobOptions seen;

        @Override
        public Object run(JobOptions options) {
            seen = options;
            options.progress().progress(10, 100);
            started.countDown();
            try {
                while (!release.await(1, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                    if (options.cancelled().getAsBoolean()) {
                        throw new BackupCancelledException("cancelled");
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BackupCancelledException("interrupted");
            }
            options.progress().progress(100, 100);
            return "result";
        }
    }

    private static void awaitEnd(Job job) {
        await("job " + job.id() + " ends").atMost(Duration.ofSeconds(20)).until(() -> job.state().finished());
    }

    @Test
    void aJobRunsToDoneWithItsProgressAndResultAndClosesItsResource() throws Exception {
        AtomicBoolean closed = new AtomicBoolean();
        try (BackupJobs jobs = new BackupJobs(2, 0, JobOptions.defaults())) {
            Blocking work = new Blocking();
            Job job = jobs.submit(EXPORT, () -> closed.set(true), work);
            work.started.await();
            assertThat(job.view().state()).isEqualTo(JobState.RUNNING);
            assertThat(job.view().bytesDone()).isEqualTo(10);
            assertThat(job.view().bytesTotal()).isEqualTo(100);
            work.release.countDown();
            awaitEnd(job);
            JobView view = jobs.job(job.id()).view();
            assertThat(view.state()).isEqualTo(JobState.DONE);
            assertThat(view.bytesDone()).isEqualTo(100);
            assertThat(view.result()).isEqualTo("result");
            assertThat(view.target()).isEqualTo("file:///tmp/r");
            assertThat(view.finishedAt()).isNotNull();
            assertThat(closed).isTrue();
            assertThatThrownBy(() -> jobs.cancel(job.id())).isInstanceOf(JobFinishedException.class);
        }
    }

    @Test
    void jobsBeyondTheLimitWaitAndAQueuedOneCancelsAtOnce() throws Exception {
        AtomicInteger closed = new AtomicInteger();
        try (BackupJobs jobs = new BackupJobs(1, 0, JobOptions.defaults())) {
            Blocking first = new Blocking();
            Job running = jobs.submit(EXPORT, closed::incrementAndGet, first);
            first.started.await();
            Blocking second = new Blocking();
            Job queued = jobs.submit(EXPORT, closed::incrementAndGet, second);
            assertThat(queued.id()).isGreaterThan(running.id());
            assertThat(queued.view().state()).isEqualTo(JobState.RUNNING);
            assertThat(queued.view().startedAt()).isNull();

            jobs.cancel(queued.id());
            assertThat(queued.state()).isEqualTo(JobState.CANCELLED);
            jobs.cancel(running.id());
            awaitEnd(running);
            assertThat(running.state()).isEqualTo(JobState.CANCELLED);
            assertThat(second.seen).isNull();
        }
        assertThat(closed).hasValue(2);
    }

    @Test
    void aFailureEndsTheJobFailedWithItsMessage() throws Exception {
        try (BackupJobs jobs = new BackupJobs(2, 0, JobOptions.defaults())) {
            Job job = jobs.submit(EXPORT, () -> {
            }, options -> {
                throw new IllegalStateException("disk on fire");
            });
            awaitEnd(job);
            assertThat(job.view().state()).isEqualTo(JobState.FAILED);
            assertThat(job.view().error()).isEqualTo("disk on fire");
        }
    }

    /**
     * Three jobs run at once and a fourth waits: each running job is paced at a positive share,
     * and the shares of the jobs running together never add up to more than the gateway's rate,
     * also once the waiting job takes the slot of one that ended.
     */
    @Test
    void theRunningJobsShareTheGatewayRate() throws Exception {
        long rate = 1000;
        try (BackupJobs jobs = new BackupJobs(3, rate, JobOptions.defaults())) {
            List<Blocking> works = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Blocking work = new Blocking();
                works.add(work);
                jobs.submit(EXPORT, () -> {
                }, work);
            }
            List<Blocking> running = works.subList(0, 3);
            for (Blocking work : running) {
                work.started.await();
            }
            assertThat(works.get(3).seen).as("the fourth job waits for a slot").isNull();
            assertThatSharesFit(running, rate);

            running.get(0).release.countDown();
            works.get(3).started.await();
            assertThatSharesFit(works.subList(1, 4), rate);
            works.forEach(work -> work.release.countDown());
        }
    }

    private static void assertThatSharesFit(List<Blocking> runningTogether, long rate) {
        long total = 0;
        for (Blocking work : runningTogether) {
            assertThat(work.seen.bytesPerSecond()).as("a running job's pace").isPositive();
            total += work.seen.bytesPerSecond();
        }
        assertThat(total).as("the paces of the jobs running together").isLessThanOrEqualTo(rate);
    }

    @Test
    void closingCancelsWhatRuns() throws Exception {
        BackupJobs jobs = new BackupJobs(2, 0, JobOptions.defaults());
        Blocking work = new Blocking();
        Job job = jobs.submit(EXPORT, () -> {
        }, work);
        work.started.await();
        jobs.close();
        assertThat(job.state()).isEqualTo(JobState.CANCELLED);
        jobs.close();
        assertThatThrownBy(() -> jobs.submit(EXPORT, () -> {
        }, new Blocking()))
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThatThrownBy(() -> jobs.job(99)).isInstanceOf(JobNotFoundException.class);
    }
}
