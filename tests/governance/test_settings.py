import os
import subprocess
import sys
import unittest

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import SimpleTestCase, TestCase

from governance.settings import BASE_DIR, envbool, parse_database_url
from tests.base import run_apart


class DatabaseUrlTestCase(SimpleTestCase):
    def test_it_reads_a_postgis_url(self):
        db = parse_database_url("postgis://grid:s%40cret@db.example:6543/gridgov?sslmode=require")
        self.assertEqual(db["ENGINE"], "django.contrib.gis.db.backends.postgis")
        self.assertEqual(
            (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]),
            ("gridgov", "grid", "s@cret", "db.example", "6543"),
        )
        self.assertEqual(
            db["OPTIONS"],
            {
                "server_side_binding": True,
                "prepare_threshold": 5,
                "options": "-c jit=off",
                "sslmode": "require",
            },
        )

    def test_it_reads_a_unix_socket_directory_as_the_host(self):
        db = parse_database_url("postgis://grid@%2Fvar%2Frun%2FPostgreSQL:5433/gridgov")
        self.assertEqual(
            (db["NAME"], db["USER"], db["HOST"], db["PORT"]),
            ("gridgov", "grid", "/var/run/PostgreSQL", "5433"),
        )
        self.assertEqual(parse_database_url("postgis://%2Frun%2Fpg/g")["HOST"], "/run/pg")

    def test_it_reads_spatialite_paths(self):
        self.assertEqual(
            parse_database_url("spatialite:////srv/gridgov.sqlite3")["NAME"], "/srv/gridgov.sqlite3"
        )
        self.assertEqual(
            parse_database_url("spatialite:///var/x.sqlite3")["NAME"],
            str(BASE_DIR / "var" / "x.sqlite3"),
        )

    def test_it_rejects_malformed_urls_clearly(self):
        cases = {
            "mysql://u@h/db": "unknown scheme 'mysql'",
            "postgis://u@h": "the database name is missing",
            "postgis://u@h:port/db": "the port is not a number",
            "postgis:///db": "the host is missing",
            "spatialite://": "a SpatiaLite URL needs a file path",
            "gridgov": "no scheme",
        }
        for url, reason in cases.items():
            with self.subTest(url=url):
                with self.assertRaises(ImproperlyConfigured) as raised:
                    parse_database_url(url)
                self.assertIn(reason, str(raised.exception))
                self.assertIn(
                    "Expected postgis://USER:PASSWORD@HOST:PORT/NAME", str(raised.exception)
                )

    def test_manage_py_stops_with_the_message(self):
        env = {**os.environ, "DATABASE_URL": "postgis://nohost"}
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DATABASE_URL 'postgis://nohost' is malformed", result.stderr)

    def test_envbool_rejects_what_it_cannot_read(self):
        os.environ["GRIDGOV_TEST_FLAG"] = "maybe"
        try:
            with self.assertRaisesMessage(ImproperlyConfigured, "GRIDGOV_TEST_FLAG='maybe'"):
                envbool("GRIDGOV_TEST_FLAG", False)
        finally:
            del os.environ["GRIDGOV_TEST_FLAG"]


class PasswordHasherTestCase(SimpleTestCase):
    def test_the_product_hashes_passwords_with_pbkdf2(self):
        # The test run swaps in a fast hasher (tests/conftest.py); the product must not.
        script = (
            "import django\n"
            "django.setup()\n"
            "from django.contrib.auth.hashers import check_password, make_password\n"
            "encoded = make_password('correct horse')\n"
            "print(encoded.split('$')[0], check_password('correct horse', encoded))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "governance.settings"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["pbkdf2_sha256", "True"])

    def test_the_test_run_hashes_fast(self):
        from django.contrib.auth.hashers import make_password

        self.assertTrue(make_password("correct horse").startswith("md5$"))


@unittest.skipUnless(connection.vendor == "postgresql", "PostgreSQL only")
class PreparedStatementsTestCase(TestCase):
    def test_statements_run_often_are_prepared_once_per_connection(self):
        from org.models import User

        def prepared() -> int:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_prepared_statements")
                return cursor.fetchone()[0]

        before = prepared()
        for pk in range(8):
            list(User.objects.filter(pk=pk))  # the same statement, other parameters
        self.assertGreater(prepared(), before)

    def test_statements_are_not_compiled_just_in_time(self):
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            self.assertEqual(cursor.fetchone()[0], "off")

    def test_custom_plans_last_as_long_as_their_transaction(self):
        # Run apart: a SET LOCAL would outlive this test's own transaction.
        script = (
            "from django.db import connection\n"
            "from governance.db import custom_plans\n"
            "def mode():\n"
            "    with connection.cursor() as c:\n"
            "        c.execute('SHOW plan_cache_mode')\n"
            "        return c.fetchone()[0]\n"
            "seen = [mode()]\n"
            "with custom_plans():\n"
            "    seen.append(mode())\n"
            "seen.append(mode())\n"
            "try:\n"
            "    with custom_plans():\n"
            "        1 / 0\n"
            "except ZeroDivisionError:\n"
            "    seen.append(mode())\n"
            "print(' '.join(seen))\n"
        )
        result = run_apart(script)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["auto", "force_custom_plan", "auto", "auto"])
