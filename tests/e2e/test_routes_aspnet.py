"""End-to-end tests of route semantics as ASP.NET Core has them, through the
real host: regex(...) constraints are case-insensitive and unanchored (the
pattern matches somewhere in the value unless it anchors itself), "%2F" in
a route value stays encoded while other escapes are decoded, the path is
split into segments before decoding, and constraints see the value as the
function does (number, bool and Guid constraints skip the white space
.NET's parsers skip)."""
from harness import http_function


def routes_app(ctx, routes):
    files = {}
    for name, route in routes.items():
        files[f"{name}/function.json"] = http_function(route=route, so="echo.so", methods=None)
        files[f"{name}/echo.so"] = ("copy", ctx.so("native", "echo"))
    return ctx.make_app(files)


def params(r):
    assert r.status == 200, r
    return r.json()["params"]


def test_regex_constraints_are_case_insensitive_and_unanchored(ctx):
    h = ctx.start(routes_app(ctx, {
        "code": "code/{c:regex(ab[0-9])}",          # unanchored: somewhere in the value
        "whole": "whole/{w:regex(^[a-z]{{3}}$)}",   # anchored by the pattern itself
        "ci": "ci/{v:regex(^(red|green)$)}",
    }))
    assert params(h.get("/api/code/xxab1yy")) == {"c": "xxab1yy"}
    assert params(h.get("/api/code/AB7")) == {"c": "AB7"}  # case-insensitive
    assert h.get("/api/code/abx").status == 404
    assert params(h.get("/api/whole/AbC")) == {"w": "AbC"}
    assert h.get("/api/whole/abcd").status == 404
    assert h.get("/api/whole/ab1").status == 404
    assert params(h.get("/api/ci/GREEN")) == {"v": "GREEN"}
    assert h.get("/api/ci/greenish").status == 404


def test_encoded_slash_stays_encoded_in_route_values(ctx):
    h = ctx.start(routes_app(ctx, {"item": "items/{id}", "files": "files/{*path}",
                                   "pair": "pair/{a}/{b}"}))
    # %2F neither splits the segment nor is decoded; other escapes are
    assert params(h.get("/api/items/a%2Fb")) == {"id": "a%2Fb"}
    assert params(h.get("/api/items/a%2fb%20c")) == {"id": "a%2fb c"}
    assert h.get("/api/items/a/b").status == 404
    assert params(h.get("/api/pair/x%2Fy/z")) == {"a": "x%2Fy", "b": "z"}
    # a catch-all keeps real separators and the encoded one
    assert params(h.get("/api/files/d/e%2Ff.txt")) == {"path": "d/e%2Ff.txt"}


def test_constraints_see_the_value_with_the_encoded_slash(ctx):
    h = ctx.start(routes_app(ctx, {"day": "day/{d:datetime}", "len": "len/{s:length(3)}",
                                   "re": "re/{r:regex(^a%2Fb$)}"}))
    assert params(h.get("/api/day/2024-01-31")) == {"d": "2024-01-31"}
    # "01%2F31%2F2024" is what the constraint sees: not a date (as in ASP.NET Core)
    assert h.get("/api/day/01%2F31%2F2024").status == 404
    # length counts the three characters of "%2F"
    assert params(h.get("/api/len/%2F")) == {"s": "%2F"}
    assert h.get("/api/len/a%2F").status == 404
    assert params(h.get("/api/re/A%2FB")) == {"r": "A%2FB"}


def test_routes_command_shows_the_encoded_value(ctx):
    app = routes_app(ctx, {"item": "items/{id}"})
    p = ctx.run("routes", "--script-root", app, "--match", "GET", "/api/items/a%2Fb")
    assert p.returncode == 0, p.stderr
    assert '"params":{"id":"a%2Fb"}' in p.stdout, p.stdout


def test_number_constraints_allow_white_space_around_the_value(ctx):
    # int.TryParse(NumberStyles.Integer) and bool.TryParse skip it, so ASP.NET
    # Core routes " 5" to {n:int}; the value keeps the spaces
    h = ctx.start(routes_app(ctx, {"num": "num/{n:int}", "flag": "flag/{f:bool}"}))
    assert params(h.get("/api/num/%205%20")) == {"n": " 5 "}
    assert h.get("/api/num/5%205").status == 404
    assert params(h.get("/api/flag/%09true")) == {"f": "\ttrue"}
