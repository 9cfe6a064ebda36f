package cgw.api.jobs;

/** No job has this id on this gateway (jobs live in memory: a restart forgets them). */
public class JobNotFoundException extends RuntimeException {
    public JobNotFoundException(String message) {
        super(message);
    }
}
