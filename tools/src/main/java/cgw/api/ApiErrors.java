package cgw.api;

import cgw.api.jobs.JobFinishedException;
import cgw.api.jobs.JobNotFoundException;
import cgw.backup.BackupException;
import cgw.backup.BaseMismatchException;
import cgw.backup.InvalidTargetException;
import cgw.backup.RepositoryFormatException;
import cgw.backup.RepositoryLockedException;
import cgw.backup.SnapshotExistsException;
import cgw.backup.SnapshotNotFoundException;
import cgw.backup.TargetNotAllowedException;
import cgw.backup.WrongKeyException;
import cgw.barrier.BarrierBusyException;
import cgw.barrier.BarrierException;
import cgw.barrier.BarrierTimeoutException;
import cgw.barrier.ConflictException;
import cgw.barrier.InvalidBarrierRequestException;
import cgw.barrier.NotFoundException;
import cgw.replication.EpochLostException;
import cgw.replication.ReplicaUnavailableException;
import cgw.store.EpochNotRetainedException;
import cgw.store.InvalidRequestException;
import cgw.store.OutOfRangeException;
import cgw.store.StoreFullException;
import cgw.store.VolumeExistsException;
import cgw.store.VolumeInUseException;
import cgw.store.VolumeNotFoundException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.netty.handler.codec.http.HttpMethod;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a failure becomes an HTTP status and a JSON body
 * {@code {"error": code, "detail": text}}. Stateless, called from the event loop and the store
 * pool alike. Failures that are not the client's fault are logged here with their stack trace;
 * nothing else in the API may decide a status for an exception.
 */
public final class ApiErrors {
    private static final Logger log = LoggerFactory.getLogger(ApiErrors.class);

    /** The JSON body of every error reply. */
    public record ErrorBody(String error, String detail) {
    }

    private ApiErrors() {
    }

    /**
     * The reply to {@code request} (its method and path, for the log) that failed with
     * {@code failure}.
     */
    public static Reply reply(Throwable failure, String request) {
        Throwable cause = unwrap(failure);
        if (cause instanceof ApiException e) {
            Reply reply = reply(e.error(), e.getMessage());
            if (e.error() == ApiError.METHOD_NOT_ALLOWED) {
                return reply.withHeader("Allow", allowHeader(e.allowedMethods()));
            }
            if (e.error() == ApiError.UNAUTHORIZED) {
                return reply.withHeader("WWW-Authenticate", "Bearer");
            }
            return reply;
        }
        if (cause instanceof BarrierException barrier) {
            return barrierReply(barrier);
        }
        if (cause instanceof BackupException backup) {
            return backupReply(backup, request);
        }
        if (cause instanceof JobNotFoundException) {
            return reply(ApiError.NOT_FOUND, cause.getMessage());
        }
        if (cause instanceof JobFinishedException) {
            return reply(ApiError.CONFLICT, cause.getMessage());
        }
        if (cause instanceof VolumeNotFoundException || cause instanceof EpochNotRetainedException) {
            return reply(ApiError.NOT_FOUND, cause.getMessage());
        }
        if (cause instanceof VolumeExistsException || cause instanceof VolumeInUseException) {
            return reply(ApiError.CONFLICT, cause.getMessage());
        }
        if (cause instanceof StoreFullException) {
            return reply(ApiError.INSUFFICIENT_STORAGE, cause.getMessage());
        }
        if (cause instanceof InvalidRequestException || cause instanceof OutOfRangeException) {
            return reply(ApiError.BAD_REQUEST, cause.getMessage());
        }
        if (cause instanceof JsonProcessingException e) {
            return reply(ApiError.BAD_REQUEST, describe(e));
        }
        if (cause instanceof RejectedExecutionException) {
            log.warn("{}: refused, the store pool is full", request);
            return reply(ApiError.UNAVAILABLE, "the gateway has too many requests in flight; retry later");
        }
        log.error("{} failed", request, cause);
        return reply(ApiError.INTERNAL, cause.getClass().getSimpleName() + ": " + cause.getMessage());
    }

    private static Reply barrierReply(BarrierException e) {
        ApiError error;
        if (e instanceof NotFoundException) {
            error = ApiError.NOT_FOUND;
        } else if (e instanceof EpochLostException) {
            error = ApiError.EPOCH_LOST;
        } else if (e instanceof ConflictException) {
            error = ApiError.CONFLICT;
        } else if (e instanceof InvalidBarrierRequestException) {
            error = ApiError.BAD_REQUEST;
        } else if (e instanceof BarrierBusyException || e instanceof ReplicaUnavailableException) {
            error = ApiError.UNAVAILABLE;
        } else if (e instanceof BarrierTimeoutException) {
            error = ApiError.TIMEOUT;
        } else {
            log.error("barrier failed", e);
            error = ApiError.INTERNAL;
        }
        return reply(error, e.getMessage());
    }

    /**
     * A repository that is not there or not usable is the caller's choice of target (400, 404),
     * one outside the backup roots is not the caller's to choose (403);
     * one busy or holding the snapshot already is a conflict (409); a store that fails is ours (500).
     */
    private static Reply backupReply(BackupException e, String request) {
        ApiError error;
        if (e instanceof TargetNotAllowedException) {
            error = ApiError.FORBIDDEN;
        } else if (e instanceof InvalidTargetException || e instanceof RepositoryFormatException) {
            error = ApiError.BAD_REQUEST;
        } else if (e instanceof SnapshotNotFoundException) {
            error = ApiError.NOT_FOUND;
        } else if (e instanceof SnapshotExistsException || e instanceof RepositoryLockedException
                || e instanceof BaseMismatchException
                || e instanceof WrongKeyException) {
            error = ApiError.CONFLICT;
        } else {
            log.error("{} failed", request, e);
            error = ApiError.INTERNAL;
        }
        return reply(error, e.getMessage());
    }

    /** The reply for an error decided without an exception (a body too large, a bad request line). */
    public static Reply reply(ApiError error, String detail) {
        return new Reply(error.status(), new ErrorBody(error.code(), detail), Map.of());
    }

    private static Throwable unwrap(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    private static String describe(JsonProcessingException e) {
        if (e instanceof UnrecognizedPropertyException unknown) {
            String known = unknown.getKnownPropertyIds() == null
                    ? ""
                    : unknown.getKnownPropertyIds().stream().map(String::valueOf).sorted()
                            .collect(Collectors.joining(", ", " (known fields: ", ")"));
            return "unknown field '" + path(unknown) + "'" + known;
        }
        if (e instanceof MismatchedInputException mismatch) {
            String path = path(mismatch);
            String expected = expected(mismatch.getTargetType());
            return path.isEmpty()
                    ? "the request body must be " + expected
                    : "field '" + path + "' must be " + expected;
        }
        return "malformed JSON: " + e.getOriginalMessage()
                + (e.getLocation() == null
                        ? ""
                        : " at line " + e.getLocation().getLineNr()
                                + ", column " + e.getLocation().getColumnNr());
    }

    private static String path(JsonMappingException e) {
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference reference : e.getPath()) {
            if (reference.getFieldName() != null) {
                path.append(path.length() == 0 ? "" : ".").append(reference.getFieldName());
            } else if (reference.getIndex() >= 0) {
                path.append('[').append(reference.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    private static String expected(Class<?> type) {
        if (type == null || JsonNode.class.isAssignableFrom(type)) {
            return "a valid JSON value";
        }
        if (type == String.class) {
            return "a string";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        }
        if (type.isPrimitive() || Number.class.isAssignableFrom(type)) {
            return "a number";
        }
        if (type.isArray() || Collection.class.isAssignableFrom(type)) {
            return "an array";
        }
        return "a JSON object";
    }

    private static String allowHeader(Collection<HttpMethod> methods) {
        return methods.stream().map(HttpMethod::name).sorted().collect(Collectors.joining(", "));
    }
}
