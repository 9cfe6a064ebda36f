package cgw.api.jobs;

/** A cancel asked of a job that already ended: nothing is left to stop. */
public class JobFinishedException extends RuntimeException {
    public JobFinishedException(String message) {
        super(message);
    }
}
