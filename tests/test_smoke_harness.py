from tests.factories import Api


async def test_login_then_viewer(demo: Api) -> None:
    data = await demo.data("{ viewer { username permissions } }", as_user="user1")
    assert data["viewer"] == {
        "username": "user1",
        "permissions": ["CR", "CW", "IR", "IW", "LR", "LW"],
    }
