"""What the demo bot does: /ping answers "pong"; /hello answers with a mention of the sender, as a
reply to the command; /mute @someone <seconds> mutes them (the bot must be a group admin)."""

from nonebot import on_command
from nonebot.adapters.onebot.v11 import Bot, GroupMessageEvent, Message, MessageEvent
from nonebot.params import CommandArg

ping = on_command("ping")
hello = on_command("hello")
mute = on_command("mute")


@ping.handle()
async def _ping() -> None:
    await ping.finish("pong")


@hello.handle()
async def _hello(bot: Bot, event: MessageEvent) -> None:
    await bot.send(event, "hello", at_sender=True, reply_message=True)


@mute.handle()
async def _mute(bot: Bot, event: GroupMessageEvent, args: Message = CommandArg()) -> None:  # noqa: B008 (NoneBot injects it)
    targets = [int(seg.data["qq"]) for seg in args if seg.type == "at" and seg.data["qq"] != "all"]
    words = args.extract_plain_text().split()
    seconds = int(words[-1]) if words and words[-1].isdecimal() else 60
    for user_id in targets:
        await bot.set_group_ban(group_id=event.group_id, user_id=user_id, duration=seconds)
    await mute.finish(f"muted {len(targets)} for {seconds} s")
