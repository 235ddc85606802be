"""``python -m channels.wechat.sandbox``: run the emulator in the foreground."""

from channels.wechat.sandbox import main

main()
