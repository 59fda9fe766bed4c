"""The leaderboard's outputs beyond the table rows: human section names (`names`), the no-drop check of the
committed board (`keep`), the HTML board page (`board`), and the static site (`build.write_site`): the board as
index.html and one page per suite run (`pages`), its report's Markdown rendered by `markup`.

Nothing here imports `mirbench.leaderboard` at import time: the leaderboard imports `names` and `keep`.
"""
