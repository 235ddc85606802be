"""A real WordPress for tests: Debian's ``wordpress`` package on Apache + mod_php, on loopback.

``site()`` makes its own MariaDB database (127.0.0.1:3306, root), a site configuration
``/etc/wordpress/config-<name>.php`` chosen by Apache's ``SetEnv WORDPRESS_CONFIG`` (the
Debian package's own mechanism, so ``/usr/share/wordpress`` is used as installed), installs
WordPress with PHP's command line (``wp_install``), makes an editor account with an
Application Password (``WP_Application_Passwords``), and starts Apache in the foreground on
a free loopback port. Everything is removed afterwards: Apache stopped, the database
dropped, the configuration and uploads deleted.

The packages come from ``setup/debian-packages.txt`` (``wordpress``, ``apache2``,
``libapache2-mod-php``, ``php-mysql``); ``missing()`` says what is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

WORDPRESS = Path("/usr/share/wordpress")
CONFIG_DIR = Path("/etc/wordpress")
MODULES = Path("/usr/lib/apache2/modules")
MARIADB = ("mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root")
USERNAME = "publisher-bot"

INSTALL_PHP = r"""<?php
$_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
$_SERVER['HTTP_HOST'] = getenv('SITE_HOST');
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$url = getenv('SITE_URL');
$result = wp_install('Publisher test site', 'site-admin', 'admin@example.org', false, '',
                     wp_generate_password(24));
update_option('siteurl', $url);
update_option('home', $url);
update_option('permalink_structure', '/%postname%/');
update_option('upload_path', getenv('UPLOAD_DIR'));
update_option('upload_url_path', $url . 'uploads');
$editor = wp_insert_user(array('user_login' => getenv('EDITOR'), 'user_pass' => wp_generate_password(24),
                               'user_email' => 'bot@example.org', 'role' => 'editor'));
list($password, $item) = WP_Application_Passwords::create_new_application_password(
    $editor, array('name' => 'gov-publisher'));
echo json_encode(array('password' => $password, 'editor' => $editor));
"""

APACHE_CONF = """ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {run}/apache.pid
ErrorLog {run}/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule rewrite_module {modules}/mod_rewrite.so
LoadModule env_module {modules}/mod_env.so
LoadModule alias_module {modules}/mod_alias.so
LoadModule php_module {modules}/libphp8.2.so
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 8
TypesConfig /etc/mime.types
DirectoryIndex index.php
AddType application/x-httpd-php .php
Mutex file:{run}
DefaultRuntimeDir {run}
SetEnv WORDPRESS_CONFIG {name}
DocumentRoot {root}
Alias /uploads {uploads}
<Directory {uploads}>
  Require all granted
</Directory>
<Directory {root}>
  Require all granted
  AllowOverride None
  RewriteEngine On
  RewriteBase /
  RewriteRule ^index\\.php$ - [L]
  RewriteCond %{{REQUEST_FILENAME}} !-f
  RewriteCond %{{REQUEST_FILENAME}} !-d
  RewriteRule . /index.php [L]
</Directory>
"""

SITE_CONFIG = """<?php
define('DB_NAME', '{database}');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', '127.0.0.1:3306');
define('DB_CHARSET', 'utf8mb4');
define('WP_HOME', '{url}');
define('WP_SITEURL', '{url}');
// Application Passwords need https, or a site whose environment type is 'local'
define('WP_ENVIRONMENT_TYPE', 'local');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
$table_prefix = 'wp_';
"""


@dataclass(frozen=True)
class Site:
    """A running WordPress: its root ``url``, the editor account and its application password."""

    url: str
    username: str
    application_password: str
    database: str
    run_dir: Path


def missing() -> list[str]:
    """What this machine lacks to run the real WordPress (empty: it can)."""
    problems = []
    for path in (WORDPRESS / "wp-load.php", MODULES / "libphp8.2.so",
                 MODULES / "mod_rewrite.so"):
        if not path.exists():
            problems.append(f"{path} (install setup/debian-packages.txt)")
    if shutil.which("apache2") is None and not Path("/usr/sbin/apache2").exists():
        problems.append("apache2")
    if shutil.which("php") is None:
        problems.append("php (php-cli)")
    if os.geteuid() != 0:
        problems.append("root (the site configuration goes under /etc/wordpress)")
    try:
        subprocess.run([*MARIADB, "-e", "SELECT 1"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        problems.append("MariaDB on 127.0.0.1:3306 (root, no password)")
    return problems


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"apache2 exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(url + "wp-json/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"WordPress did not answer at {url}: {log.read_text(errors='replace')}")


@contextmanager
def site() -> Iterator[Site]:
    """A fresh WordPress site on a loopback port, removed afterwards."""
    name = f"gptest{uuid.uuid4().hex[:10]}"
    database = f"wp_{name}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    run = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    run.chmod(0o755)
    uploads = run / "uploads"
    uploads.mkdir()
    shutil.chown(uploads, "www-data", "www-data")
    config = CONFIG_DIR / f"config-{name}.php"
    process: subprocess.Popen[bytes] | None = None
    subprocess.run([*MARIADB, "-e", f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"],
                   check=True, capture_output=True, timeout=30)
    try:
        CONFIG_DIR.mkdir(exist_ok=True)
        config.write_text(SITE_CONFIG.format(database=database, url=url), encoding="utf-8")
        config.chmod(0o644)
        script = run / "install.php"
        script.write_text(INSTALL_PHP, encoding="utf-8")
        done = subprocess.run(
            ["php", str(script)], capture_output=True, timeout=120, check=False,
            env={**os.environ, "WORDPRESS_CONFIG": name, "SITE_HOST": f"127.0.0.1:{port}",
                 "SITE_URL": url, "UPLOAD_DIR": str(uploads), "EDITOR": USERNAME})
        if done.returncode != 0:
            raise RuntimeError(f"wp_install failed: {done.stdout[-2000:]!r} {done.stderr[-2000:]!r}")
        made = json.loads(done.stdout.decode().strip().splitlines()[-1])
        (run / "apache.conf").write_text(APACHE_CONF.format(
            port=port, run=run, modules=MODULES, name=name, root=WORDPRESS, uploads=uploads),
            encoding="utf-8")
        process = subprocess.Popen(["apache2", "-f", str(run / "apache.conf"), "-DFOREGROUND"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                   # its own process group: prefork's shutdown signals the
                                   # whole group, which would otherwise include pytest
                                   start_new_session=True,
                                   env={**os.environ, "APACHE_RUN_DIR": str(run)})
        _wait(url, process, run / "error.log")
        yield Site(url, USERNAME, str(made["password"]), database, run)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        config.unlink(missing_ok=True)
        subprocess.run([*MARIADB, "-e", f"DROP DATABASE IF EXISTS `{database}`"],
                       capture_output=True, timeout=30, check=False)
        shutil.rmtree(run, ignore_errors=True)
