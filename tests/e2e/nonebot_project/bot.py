"""A NoneBot2 bot on IM-Suite's onebot11 dialect, as docs/bots.md shows it: `.env` (or the
environment) says where it connects (forward: ONEBOT_WS_URLS) or listens (reverse: HOST, PORT and
/onebot/v11/ws), plugins/imsuite_demo.py is what it does. Run: `python bot.py`."""

import nonebot
from nonebot.adapters.onebot.v11 import Adapter

nonebot.init()
nonebot.get_driver().register_adapter(Adapter)
nonebot.load_plugins("plugins")

if __name__ == "__main__":
    nonebot.run()
