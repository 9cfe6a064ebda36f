package cgw.tests.ui;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.GatewayProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dashboard at {@code /ui/} in a real browser: Debian's headless Chromium driven through its
 * chromedriver, against a real gateway. Logs in, sees what the REST calls made, takes a snapshot
 * from the page, clones one, exports one and watches the job finish, and sees the API's refusals
 * worded as the API words them. Screenshots go to {@code target/screenshots}, and also to the
 * directory in {@code -Dcgw.screenshots.dir} (how docs/images is made).
 */
class DashboardTest {
    private static final Logger log = LoggerFactory.getLogger(DashboardTest.class);
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    private GatewayProcess gateway;
    private ChromeDriver browser;
    private WebDriverWait wait;

    @BeforeEach
    void start(org.junit.jupiter.api.TestInfo test) throws IOException {
        String chromium = require("chromium", "chromium");
        String driver = require("chromedriver", "chromium-driver");
        require("qemu-io", "qemu-utils");
        // a slow backup rate for the test that cancels a job before it can finish
        gateway = test.getTestMethod().orElseThrow().getName().startsWith("aRunningExport")
                ? GatewayProcess.start(dir.resolve("data"), dir.resolve("gateway.err"), "--backup-rate", "1MiB")
                : GatewayProcess.start(dir.resolve("data"), dir.resolve("gateway.err"));
        ChromeOptions options = new ChromeOptions().setBinary(chromium)
                .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                        "--window-size=1280,900", "--user-data-dir=" + dir.resolve("chromium"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(Path.of(driver).toFile())
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        // the page redraws every 2 s: an element found just before a redraw goes stale, and is looked up again
        wait = new WebDriverWait(browser, WAIT);
        wait.ignoring(StaleElementReferenceException.class);
    }

    @AfterEach
    void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (gateway != null) {
            gateway.close();
        }
    }

    private String ui(String fragment) {
        return "http://127.0.0.1:" + gateway.restPort + "/ui/" + fragment;
    }

    private WebElement shown(By by) {
        return wait.until(ExpectedConditions.visibilityOfElementLocated(by));
    }

    /** Clicks what {@code by} finds, looking it up again if a redraw replaced it meanwhile. */
    private void click(By by) {
        wait.until(d -> {
            d.findElement(by).click();
            return true;
        });
    }

    /** The text of what {@code by} finds, looked up again if a redraw replaced it meanwhile. */
    private String text(By by) {
        return wait.until(d -> d.findElement(by).getText());
    }

    private String errorBanner() {
        shown(By.id("error-text"));
        return text(By.id("error-text"));
    }

    private void screenshot(String name) throws IOException {
        Path shot = browser.getScreenshotAs(OutputType.FILE).toPath();
        Path target = Path.of("target", "screenshots");
        Files.createDirectories(target);
        Files.copy(shot, target.resolve(name), StandardCopyOption.REPLACE_EXISTING);
        String docs = System.getProperty("cgw.screenshots.dir");
        if (docs != null) {
            Files.createDirectories(Path.of(docs));
            Files.copy(shot, Path.of(docs).resolve(name), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private boolean volumeExists(String name) {
        try {
            return gateway.rest("GET", "/v1/volumes/" + name, null).statusCode() == 200;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    void anOperatorLogsInSnapshotsClonesAndExportsFromThePage() throws Exception {
        gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"db-wal\",\"size\":\"64MiB\"}");
        gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"db-data\",\"size\":\"256MiB\"}");
        gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"scratch\",\"size\":\"1GiB\"}");
        run("qemu-io", "-f", "raw", "-c", "write -P 7 0 24M", gateway.nbdUri("db-data")).assertSuccess();
        gateway.call(201, "POST", "/v1/groups", "{\"name\":\"db\",\"volumes\":[\"db-wal\",\"db-data\"]}");
        for (String label : List.of("hourly", "hourly", "nightly")) {
            gateway.call(201, "POST", "/v1/groups/db/snapshots", "{\"label\":\"" + label + "\"}");
        }

        // a wrong token is refused as the API says, and nothing is shown
        browser.get(ui(""));
        shown(By.id("token")).sendKeys("not-the-token");
        click(By.cssSelector("#login button[type=submit]"));
        assertThat(errorBanner()).startsWith("401");
        assertThat(browser.findElements(By.id("volumes-table"))).isEmpty();

        shown(By.id("token")).sendKeys(gateway.token());
        click(By.cssSelector("#login button[type=submit]"));
        shown(By.cssSelector("tr[data-volume='db-data']"));
        assertThat(browser.findElements(By.cssSelector("#volumes-table tbody tr"))).hasSize(3);
        // the allocated bytes are measured in the background: the page shows them within a refresh or two
        wait.until(d -> d.findElement(By.cssSelector("tr[data-volume='db-data']")).getText().contains("24 MiB"));
        assertThat(text(By.cssSelector("tr[data-volume='db-data']"))).contains("256 MiB",
                "db");
        screenshot("dashboard-volumes.png");

        // a token in the fragment logs in too, and leaves the address bar
        browser.manage().deleteAllCookies();
        browser.executeScript("sessionStorage.clear()");
        browser.get(ui("#token=" + gateway.token()));
        shown(By.id("volumes-table"));
        assertThat(browser.getCurrentUrl()).doesNotContain(gateway.token());

        click(By.cssSelector("a[data-view='groups']"));
        click(By.cssSelector("tr[data-group='db'] a"));
        assertThat(shown(By.id("snapshots-table")).findElements(By.cssSelector("tbody tr"))).hasSize(3);
        shown(By.id("snapshot-label")).sendKeys("from-the-page");
        click(By.id("take-snapshot"));
        // the page redraws every 2 s, so rows are read and clicked through fresh lookups
        String snapshot = wait.until(d -> d.findElements(By.cssSelector("#snapshots-table tbody tr")).stream()
                .filter(row -> row.getText().contains("from-the-page")).findFirst()
                .map(row -> row.getAttribute("data-snapshot")).orElse(null));
        By taken = By.cssSelector("tr[data-snapshot='" + snapshot + "']");
        String freeze = text(By.cssSelector("tr[data-snapshot='" + snapshot + "'] td.freeze"));
        assertThat(Long.parseLong(freeze)).as("the snapshot's freeze time in µs").isNotNegative();
        assertThat(browser.findElements(By.cssSelector("svg.timeline rect"))).hasSize(4);
        assertThat(text(taken)).contains("from-the-page");

        click(By.cssSelector("tr[data-snapshot='" + snapshot + "'] button.choose"));
        shown(By.id("clone-prefix")).sendKeys("drill-");
        click(By.id("clone"));
        wait.until(d -> browser.findElements(By.id("error-text")).stream().noneMatch(WebElement::isDisplayed)
                && volumeExists("drill-db-data"));
        // the same clone again: the API's 409, worded as the API words it
        click(By.id("clone"));
        assertThat(errorBanner()).startsWith("409").contains("drill-");
        click(By.id("error-close"));
        screenshot("dashboard-group.png");

        // an export outside the backup roots: 403
        shown(By.id("export-target")).sendKeys("file:///etc/cgw-backups");
        click(By.id("export"));
        assertThat(errorBanner()).startsWith("403");
        click(By.id("error-close"));
        WebElement target = shown(By.id("export-target"));
        target.clear();
        target.sendKeys("file://" + gateway.data.resolve("backups").resolve("db").toAbsolutePath());
        click(By.id("export"));
        wait.until(d -> { // the job's row, or the refusal the page shows instead
            List<WebElement> errors = d.findElements(By.id("error-text"));
            if (errors.stream().anyMatch(WebElement::isDisplayed)) {
                throw new AssertionError("the export was refused: " + errors.get(0).getText());
            }
            return d.findElements(By.cssSelector("#jobs-table tbody tr")).stream().anyMatch(WebElement::isDisplayed);
        });
        assertThat(text(By.cssSelector("#jobs-table tbody tr"))).contains("export", snapshot);
        wait.until(d -> d.findElement(By.cssSelector("#jobs-table tbody tr td.state")).getText().startsWith("done"));
        String progress = wait.until(d -> d.findElement(By.cssSelector("#jobs-table progress")).getAttribute("value"));
        assertThat(progress).isEqualTo("100");
        screenshot("dashboard-jobs.png");
    }

    @Test
    void aHundredVolumesAndAThousandSnapshotsArePaged() throws Exception {
        for (int i = 0; i < 100; i++) {
            gateway.call(201, "POST", "/v1/volumes", String.format("{\"name\":\"vm-%03d\",\"size\":\"1GiB\"}", i));
        }
        gateway.call(201, "POST", "/v1/groups", "{\"name\":\"fleet\",\"volumes\":[\"vm-000\",\"vm-001\"]}");
        for (int i = 0; i < 1000; i++) {
            gateway.call(201, "POST", "/v1/groups/fleet/snapshots", "{\"label\":\"s" + i + "\"}");
        }
        long started = System.nanoTime();
        browser.get(ui("#token=" + gateway.token()));
        shown(By.cssSelector("tr[data-volume='vm-000']"));
        long volumesMillis = (System.nanoTime() - started) / 1_000_000;
        assertThat(browser.findElements(By.cssSelector("#volumes-table tbody tr"))).hasSize(50);
        assertThat(text(By.cssSelector(".pager span"))).isEqualTo("page 1 of 2 (100)");

        started = System.nanoTime();
        browser.get(ui("#groups/fleet"));
        shown(By.cssSelector("#snapshots-table tbody tr"));
        long groupMillis = (System.nanoTime() - started) / 1_000_000;
        assertThat(browser.findElements(By.cssSelector("#snapshots-table tbody tr"))).hasSize(50);
        assertThat(text(By.cssSelector(".pager span"))).isEqualTo("page 1 of 20 (1000)");
        assertThat(browser.findElements(By.cssSelector("svg.timeline rect"))).hasSize(1000);
        assertThat(text(By.cssSelector("#snapshots-table tbody tr"))).contains("s999");
        click(By.xpath("//button[contains(., 'Next')]"));
        shown(By.xpath("//span[text()='page 2 of 20 (1000)']"));
        log.info("100 volumes shown in {} ms, a group of 1000 snapshots in {} ms (page load to first row)",
                volumesMillis, groupMillis);
        screenshot("dashboard-1000-snapshots.png");
    }

    @Test
    void aRunningExportIsCancelledFromThePage() throws Exception {
        gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"big\",\"size\":\"256MiB\"}");
        run("qemu-io", "-f", "raw", "-c", "write -P 9 0 64M", gateway.nbdUri("big")).assertSuccess();
        long snapshot = gateway.call(201, "POST", "/v1/snapshots", "{\"volumes\":[\"big\"]}").get("id").asLong();
        String repository = "file://" + gateway.data.resolve("backups").resolve("big").toAbsolutePath();
        long job = gateway.call(202, "POST", "/v1/snapshots/" + snapshot + "/export",
                "{\"target\":\"" + repository + "\"}").get("id").asLong();

        browser.get(ui("#token=" + gateway.token()));
        browser.get(ui("#jobs"));
        shown(By.cssSelector("tr[data-job='" + job + "']"));
        assertThat(text(By.cssSelector("tr[data-job='" + job + "'] td.state"))).isEqualTo("running");
        // progress moves while the page watches (1 MiB/s: the job cannot finish within the test)
        wait.until(d -> !d.findElement(By.cssSelector("tr[data-job='" + job + "'] td:nth-child(6)")).getText()
                .startsWith("0 B of"));
        click(By.cssSelector("tr[data-job='" + job + "'] button.cancel"));
        wait.until(d -> d.findElement(By.cssSelector("tr[data-job='" + job + "'] td.state")).getText()
                .startsWith("cancelled"));
        assertThat(gateway.call(200, "GET", "/v1/jobs/" + job, null).get("state").asText()).isEqualTo("cancelled");
        assertThat(browser.findElements(By.cssSelector("tr[data-job='" + job + "'] button.cancel"))).isEmpty();
    }

    @Test
    void aReplicatedGroupShowsItsStateAndLag() throws Exception {
        try (GatewayProcess replica = GatewayProcess.start(dir.resolve("replica"), dir.resolve("replica.err"))) {
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"app\",\"size\":\"16MiB\"}");
            gateway.call(201, "POST", "/v1/groups", "{\"name\":\"site\",\"volumes\":[\"app\"]}");
            gateway.call(200, "PUT", "/v1/groups/site/replication", "{\"target\":\"http://127.0.0.1:"
                    + replica.restPort + "\",\"targetToken\":\"" + replica.token() + "\",\"intervalMs\":500}");

            browser.get(ui("#token=" + gateway.token()));
            browser.get(ui("#groups"));
            wait.until(d -> d.findElement(By.cssSelector("tr[data-group='site']")).getText()
                    .contains("primary, replicating"));
            assertThat(text(By.cssSelector("tr[data-group='site'] td.num")))
                    .matches("\\d+ ms|\\d+\\.\\d s");
            click(By.cssSelector("tr[data-group='site'] a"));
            shown(By.id("replication"));
            assertThat(text(By.id("replication"))).contains("primary, replicating",
                    "http://127.0.0.1:" + replica.restPort);
            assertThat(text(By.id("replication-lag"))).matches("\\d+ ms|\\d+\\.\\d s");
            screenshot("dashboard-replication.png");
        }
    }
}
