# agent module fragment
