package cgw.tools;

import ch.qos.logback.classic.Level;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code --log-level} values, applied to logback's root logger before a command runs.
 * Called once, on the main thread, before any other thread logs.
 */
enum LogLevel {
    ERROR,
    WARN,
    INFO,
    DEBUG,
    TRACE;

    /** The level named {@code text}, in any case; the exception lists the names. */
    static LogLevel parse(String text) {
        for (LogLevel level : values()) {
            if (level.name().equalsIgnoreCase(text)) {
                return level;
            }
        }
        throw new IllegalArgumentException("expected error, warn, info, debug or trace, got '" + text + "'");
    }

    void apply() {
        Logger root = LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        if (root instanceof ch.qos.logback.classic.Logger logback) {
            logback.setLevel(Level.toLevel(name()));
        } else {
            root.warn("--log-level {} ignored: SLF4J is bound to {}, not logback", name().toLowerCase(),
                    LoggerFactory.getILoggerFactory().getClass().getName());
        }
    }
}
